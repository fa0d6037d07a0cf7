package io.github.portkeeper.spring.boot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What a user sees when a {@code portkeeper.*} value is wrong: the startup failure report Boot
 * prints, for an application whose {@code application.properties} holds the value. Each report
 * names the property in kebab-case, the value as written, where it was written, and the rule.
 */
@ExtendWith(OutputCaptureExtension.class)
class PropertyFailureReportTest {

    @TempDir
    Path dir;

    @Test
    void aNegativeDurationNamesThePropertyTheValueAsWrittenItsOriginAndTheRule(CapturedOutput output) throws IOException {
        String report = startWith(output, "portkeeper.retirement.drain-timeout=-1s");
        assertThat(report).contains("Property: portkeeper.retirement.drain-timeout")
                .contains("Value: \"-1s\"")
                .contains("Origin: URL [file:" + dir.resolve("application.properties") + "] - 2:")
                .contains("portkeeper.retirement.drain-timeout must be positive, but was \"-1s\"")
                .doesNotContain("PT-1S").doesNotContain("drainTimeout");
    }

    @Test
    void anUnknownEnumValueNamesThePropertyTheValueAsWrittenItsOriginAndTheValidValues(CapturedOutput output) throws IOException {
        String report = startWith(output, "portkeeper.retirement.policy=sometimes");
        assertThat(report).contains("Property: portkeeper.retirement.policy")
                .contains("Value: \"sometimes\"")
                .contains("Origin: URL [file:" + dir.resolve("application.properties") + "] - 2:")
                .contains("AWAIT_PEER").contains("REQUEST_PEER_CLOSE").contains("RESET").contains("LOCAL");
    }

    @Test
    void aCrossPropertyRuleNamesBothPropertiesTheValueAsWrittenItsOriginAndTheRule(CapturedOutput output) throws IOException {
        String report = startWith(output, "portkeeper.pool.max-per-endpoint=16\nportkeeper.pool.max-total=4");
        assertThat(report).contains("Property: portkeeper.pool.max-total")
                .contains("Value: \"4\"")
                .contains("Origin: URL [file:" + dir.resolve("application.properties") + "] - 3:")
                .contains("portkeeper.pool.max-total must be at least portkeeper.pool.max-per-endpoint (16), but was \"4\"")
                .doesNotContain("maxTotal");
    }

    @Test
    void aCrossPropertyRuleBrokenByTheOnlyWrittenPropertyIsReportedOnThatPropertyWithItsValueAndOrigin(CapturedOutput output)
            throws IOException {
        String report = startWith(output, "portkeeper.pool.max-per-endpoint=100");
        assertThat(report).contains("Property: portkeeper.pool.max-per-endpoint")
                .contains("Value: \"100\"")
                .contains("Origin: URL [file:" + dir.resolve("application.properties") + "] - 2:")
                .contains("portkeeper.pool.max-total must be at least portkeeper.pool.max-per-endpoint (100), but was 64")
                .doesNotContain("Value: \"null\"").doesNotContain("maxTotal");
    }

    @Test
    void anHttpPoolNamedLikeTheDefaultSocketPoolIsReportedOnTheWrittenName(CapturedOutput output) throws IOException {
        String report = startWith(output, "portkeeper.pool.name=socket\nportkeeper.socket-pool.enabled=true");
        assertThat(report).contains("Property: portkeeper.pool.name")
                .contains("Value: \"socket\"")
                .contains("Origin: URL [file:" + dir.resolve("application.properties") + "] - 2:")
                .contains("portkeeper.socket-pool.name must differ from portkeeper.pool.name")
                .doesNotContain("Value: \"null\"");
    }

    @Test
    void aNonDefaultFallbackNextToAPolicyWithoutDrainingNamesBothProperties(CapturedOutput output) throws IOException {
        String report = startWith(output, "portkeeper.retirement.policy=local\nportkeeper.retirement.fallback=local");
        assertThat(report).contains("Property: portkeeper.retirement.fallback")
                .contains("Value: \"local\"")
                .contains("Origin: URL [file:" + dir.resolve("application.properties") + "] - 3:")
                .contains("applies only when portkeeper.retirement.policy is await-peer or request-peer-close")
                .contains("but policy was local");
    }

    @Test
    void aDrainTimeoutNextToAPolicyWithoutDrainingNamesBothPropertiesTheValueAsWrittenAndItsOrigin(CapturedOutput output)
            throws IOException {
        String report = startWith(output, "portkeeper.retirement.policy=reset\nportkeeper.retirement.drain-timeout=5s");
        assertThat(report).contains("Property: portkeeper.retirement.drain-timeout")
                .contains("Value: \"5s\"")
                .contains("Origin: URL [file:" + dir.resolve("application.properties") + "] - 3:")
                .contains("portkeeper.retirement.drain-timeout must be left at its default (PT30S) unless "
                        + "portkeeper.retirement.policy is await-peer or request-peer-close (with policy reset nothing drains), "
                        + "but was \"5s\"")
                .doesNotContain("drainTimeout");
    }

    @Test
    void aSocketPoolSettingWithoutTheSocketPoolNamesBothPropertiesTheValueAsWrittenAndItsOrigin(CapturedOutput output)
            throws IOException {
        String report = startWith(output, "portkeeper.socket-pool.read-timeout=5s");
        assertThat(report).contains("Property: portkeeper.socket-pool.read-timeout")
                .contains("Value: \"5s\"")
                .contains("Origin: URL [file:" + dir.resolve("application.properties") + "] - 2:")
                .contains("portkeeper.socket-pool.read-timeout must be left at its default (PT0S) when "
                        + "portkeeper.socket-pool.enabled is false (no socket pool is created), but was \"5s\"")
                .doesNotContain("readTimeout");
    }

    @Test
    void aSwitchThatIsNoBooleanNamesThePropertyTheValueAsWrittenAndItsOrigin(CapturedOutput output) throws IOException {
        String report = startWith(output, "portkeeper.enabled=maybe");
        assertThat(report).contains("Property: portkeeper.enabled")
                .contains("Value: \"maybe\"")
                .contains("Origin: URL [file:" + dir.resolve("application.properties") + "] - 2:");
    }

    @Test
    void aSwitchWrittenWithNoValueNamesThePropertyAndItsOriginInsteadOfCountingAsOn(CapturedOutput output) throws IOException {
        String report = startWith(output, "portkeeper.http.enabled=");
        assertThat(report).contains("Property: portkeeper.http.enabled")
                .contains("Origin: URL [file:" + dir.resolve("application.properties") + "]")
                .contains("portkeeper.http.enabled must be true or false (or on/off, yes/no, 1/0), but was blank");
    }

    /** Starts an application with these lines in its properties file; returns the failure report. */
    private String startWith(CapturedOutput output, String lines) throws IOException {
        Path file = dir.resolve("application.properties");
        Files.writeString(file, "# the application's settings\n" + lines + "\n", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> new SpringApplicationBuilder(App.class).web(WebApplicationType.NONE)
                .run("--spring.config.location=file:" + file)).isNotNull();
        String all = output.getAll();
        int start = all.indexOf("APPLICATION FAILED TO START");
        assertThat(start).as("a failure report in:%n%s", all).isNotNegative();
        return all.substring(start);
    }

    @SpringBootConfiguration
    @ImportAutoConfiguration(PortkeeperAutoConfiguration.class)
    static class App {
    }
}
