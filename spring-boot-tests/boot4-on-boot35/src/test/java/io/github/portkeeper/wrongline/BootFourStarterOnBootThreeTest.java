package io.github.portkeeper.wrongline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.SpringBootVersion;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A Spring Boot 3.5 application that added the Boot 4 starter (as a user might): startup fails
 * at once with a report naming the Boot version found and the artifact to use, not with a
 * {@code NoSuchMethodError} or a bean-overriding failure.
 */
@ExtendWith(OutputCaptureExtension.class)
class BootFourStarterOnBootThreeTest {

    @Test
    void startupFailsNamingTheBootVersionAndTheBoot3Starter(CapturedOutput output) {
        assertThat(SpringBootVersion.getVersion()).startsWith("3.5.");
        assertThatThrownBy(() -> new SpringApplicationBuilder(App.class).web(WebApplicationType.NONE).run())
                .hasMessageContaining("Spring Boot " + SpringBootVersion.getVersion());
        String all = output.getAll();
        assertThat(all).contains("APPLICATION FAILED TO START")
                .contains("portkeeper-spring-boot-starter supports Spring Boot 4.0 and 4.1, but this application runs Spring Boot "
                        + SpringBootVersion.getVersion())
                .contains("Use io.github.portkeeper:portkeeper-spring-boot3-starter")
                .doesNotContain("NoSuchMethodError")
                .doesNotContain("could not be registered");
    }

    @SpringBootApplication
    static class App {
    }
}
