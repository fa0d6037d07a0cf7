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
 * A Spring Boot 4.0 application that added the Boot 3 starter (as a user might): startup fails
 * at once with a report naming the Boot version found and the artifact to use, not with a
 * {@code NoClassDefFoundError} from a Boot 3 class that Boot 4 moved or removed.
 */
@ExtendWith(OutputCaptureExtension.class)
class BootThreeStarterOnBootFourTest {

    @Test
    void startupFailsNamingTheBootVersionAndTheBoot4Starter(CapturedOutput output) {
        assertThat(SpringBootVersion.getVersion()).startsWith("4.0.");
        assertThatThrownBy(() -> new SpringApplicationBuilder(App.class).web(WebApplicationType.NONE).run())
                .hasMessageContaining("Spring Boot " + SpringBootVersion.getVersion());
        String all = output.getAll();
        assertThat(all).contains("APPLICATION FAILED TO START")
                .contains("portkeeper-spring-boot3-starter supports Spring Boot 3.5, but this application runs Spring Boot "
                        + SpringBootVersion.getVersion())
                .contains("Use io.github.portkeeper:portkeeper-spring-boot-starter")
                .doesNotContain("NoClassDefFoundError")
                .doesNotContain("NoSuchMethodError");
    }

    @SpringBootApplication
    static class App {
    }
}
