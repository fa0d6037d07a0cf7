package io.github.portkeeper.benchmarks;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The keep-alive harnesses' embedded server sets {@code TCP_NODELAY} however its JVM was
 * started: the JDK's server reads {@code sun.net.httpserver.nodelay} once per JVM, so each case
 * runs in a fresh one.
 */
class KeepAliveSetupTest {

    @Test
    void embeddedServerSetsTcpNoDelayWhenTheJvmWasStartedWithoutTheFlag() throws Exception {
        assertThat(probe()).isEqualTo("noDelay=true");
    }

    @Test
    void embeddedServerRefusesToStartWhenTheJvmTurnedTcpNoDelayOff() throws Exception {
        assertThat(probe("-Dsun.net.httpserver.nodelay=false")).startsWith("failed: ").contains("sun.net.httpserver.nodelay");
    }

    /** Runs {@link NoDelayProbe} in a JVM of its own with {@code jvmArgs}: its one line of output. */
    private static String probe(String... jvmArgs) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.add("--add-opens=jdk.httpserver/sun.net.httpserver=ALL-UNNAMED");
        command.addAll(List.of(jvmArgs));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), NoDelayProbe.class.getName()));
        Process probe = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            String out = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertThat(probe.waitFor(60, TimeUnit.SECONDS)).as("probe exited").isTrue();
            return out;
        } finally {
            probe.destroyForcibly();
        }
    }
}
