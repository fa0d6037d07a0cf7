package io.github.portkeeper.spring.boot.common.internal;

import org.junit.jupiter.api.Test;

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
}
