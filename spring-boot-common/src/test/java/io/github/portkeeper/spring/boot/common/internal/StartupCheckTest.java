package io.github.portkeeper.spring.boot.common.internal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.context.properties.bind.BindException;
import org.springframework.context.support.GenericApplicationContext;
import org.springframework.core.env.MapPropertySource;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StartupCheckTest {

    /** Supports 4.x, like the Boot 4 starter. */
    private final StartupCheck boot4 = new StartupCheck("portkeeper-spring-boot-starter", "4.0 and 4.1") {
        @Override
        protected boolean supports(int major, int minor) {
            return major == 4;
        }

        @Override
        protected String advice(int major, int minor) {
            return "Use portkeeper-spring-boot3-starter.";
        }
    };

    @Test
    void aSupportedLinePasses() {
        assertThatCode(() -> boot4.checkBoot("4.0.7")).doesNotThrowAnyException();
        assertThatCode(() -> boot4.checkBoot("4.1.2")).doesNotThrowAnyException();
        assertThatCode(() -> boot4.checkBoot(null)).doesNotThrowAnyException();
    }

    @Test
    void anotherLineFailsNamingTheVersionFoundAndTheArtifactToUse() {
        assertThatThrownBy(() -> boot4.checkBoot("3.5.7"))
                .isInstanceOfSatisfying(StartupFailureException.class, e -> {
                    assertThat(e.description()).isEqualTo(
                            "portkeeper-spring-boot-starter supports Spring Boot 4.0 and 4.1, but this application runs Spring Boot 3.5.7.");
                    assertThat(e.action()).isEqualTo("Use portkeeper-spring-boot3-starter.");
                });
    }

    @Test
    void anHttpClientOlderThanFiveFiveFailsNamingTheVersionsAndTheProperties() {
        assertThatCode(() -> boot4.checkHttpClient("5.6.5", "5.4.4")).doesNotThrowAnyException();
        // What Boot 3.5.7 and 4.0.7 manage.
        assertThatCode(() -> boot4.checkHttpClient("5.5.1", "5.3.6")).doesNotThrowAnyException();
        assertThatCode(() -> boot4.checkHttpClient("5.5.2", "5.3.6")).doesNotThrowAnyException();
        assertThatCode(() -> boot4.checkHttpClient("5.7", "5.5")).doesNotThrowAnyException();
        assertThatThrownBy(() -> boot4.checkHttpClient("5.4.4", "5.3.6"))
                .isInstanceOfSatisfying(StartupFailureException.class, e -> {
                    assertThat(e.description()).contains("HttpClient 5.4.4 and HttpCore 5.3.6").contains("needs Apache HttpClient 5.5");
                    assertThat(e.action()).contains("httpclient5.version=5.6.5").contains("httpcore5.version=5.4.4")
                            .contains("portkeeper.http.enabled=false");
                });
        assertThatThrownBy(() -> boot4.checkHttpClient("5.5.2", "5.2.5")).isInstanceOf(StartupFailureException.class);
    }

    @Test
    void versionsAreComparedByMajorAndMinor() {
        assertThat(StartupCheck.older("5.5.2", "5.6")).isTrue();
        assertThat(StartupCheck.older("5.6-beta1", "5.6")).isFalse();
        assertThat(StartupCheck.older("4.9", "5.6")).isTrue();
        assertThat(StartupCheck.older(null, "5.6")).isFalse();
    }

    /** Supports every Boot line: only the HttpClient check can fail. */
    private final StartupCheck anyBoot = new StartupCheck("portkeeper-spring-boot-starter", "any") {
        @Override
        protected boolean supports(int major, int minor) {
            return true;
        }

        @Override
        protected String advice(int major, int minor) {
            return "";
        }
    };

    /** Serves HttpClient's version.properties of release 5.4.4; everything else from its parent. */
    private static final class OldHttpClientLoader extends ClassLoader {
        OldHttpClientLoader() {
            super(StartupCheckTest.class.getClassLoader());
        }

        @Override
        public InputStream getResourceAsStream(String name) {
            if (name.equals("org/apache/hc/client5/version.properties")) {
                String props = "info.module=httpclient5\ninfo.release=5.4.4\n";
                return new ByteArrayInputStream(props.getBytes(StandardCharsets.ISO_8859_1));
            }
            return super.getResourceAsStream(name);
        }
    }

    /** Runs the check on a context with HttpClient 5.4.4 and {@code properties}. */
    private void initializeOnHttpClient544(Map<String, Object> properties) {
        try (GenericApplicationContext context = new GenericApplicationContext()) {
            context.setClassLoader(new OldHttpClientLoader());
            context.getEnvironment().getPropertySources().addFirst(new MapPropertySource("test", properties));
            anyBoot.initialize(context);
        }
    }

    @Test
    void anHttpClientOlderThanFiveFiveFailsStartupWithTheHttpClientOn() {
        assertThatThrownBy(() -> initializeOnHttpClient544(Map.of())).isInstanceOf(StartupFailureException.class);
        assertThatThrownBy(() -> initializeOnHttpClient544(Map.of("portkeeper.http.enabled", "yes")))
                .isInstanceOf(StartupFailureException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"false", "off", "no", "0", "OFF", " false "})
    void anHttpClientOlderThanFiveFiveIsNotCheckedWhenTheHttpSwitchIsOffInAnySpellingBootBinds(String off) {
        assertThatCode(() -> initializeOnHttpClient544(Map.of("portkeeper.http.enabled", off))).doesNotThrowAnyException();
        assertThatCode(() -> initializeOnHttpClient544(Map.of("portkeeper.enabled", off))).doesNotThrowAnyException();
    }

    @Test
    void aSwitchWrittenWithNoValueStopsStartupNamingTheProperty() {
        assertThatThrownBy(() -> initializeOnHttpClient544(Map.of("portkeeper.http.enabled", "")))
                .isInstanceOfSatisfying(BindException.class, e -> {
                    assertThat(e.getName()).hasToString("portkeeper.http.enabled");
                    assertThat(e.getCause()).hasMessageContaining("portkeeper.http.enabled must be true or false")
                            .hasMessageContaining("but was blank");
                });
        assertThatThrownBy(() -> initializeOnHttpClient544(Map.of("portkeeper.enabled", " ")))
                .isInstanceOf(BindException.class).hasMessageContaining("portkeeper.enabled");
    }
}
