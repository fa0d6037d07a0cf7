package io.github.portkeeper.cli.lab;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.portkeeper.cli.CliRun;
import io.github.portkeeper.cli.MiniJson;
import io.github.portkeeper.test.FreshPort;
import io.github.portkeeper.test.Kernel;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * With {@code --target}, the httpclient column's figures count the same connections: the
 * connections opened are those the server accepted, and every one of them has one ending. A
 * connect that failed opened no connection and has no ending; a connection the server closed
 * first did not end here first.
 */
class TargetFiguresTest {

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void httpclientConnectionsOpenedAreTheServersAcceptedAndEachHasOneEnding(@TempDir Path dir) throws Exception {
        Kernel.assumeLinux();
        try (EmbeddedServer server = EmbeddedServer.start(Duration.ofMillis(500))) {
            Path json = dir.resolve("lab.json");
            CliRun run = LabRun.of("--mode", "httpclient", "--target", "http://127.0.0.1:" + server.port() + "/",
                    "--requests", "300", "--concurrency", "8", "--cooldown", "2s", "--json", json.toString());
            assertThat(run.exitCode()).as("%s", run).isZero();

            @SuppressWarnings("unchecked")
            Map<String, Object> r = ((List<Map<String, Object>>) ((Map<String, Object>) MiniJson.parse(
                    Files.readString(json))).get("runs")).get(0);
            long opened = ((Number) r.get("connectionsOpened")).longValue();
            @SuppressWarnings("unchecked")
            Map<String, Object> closes = (Map<String, Object>) r.get("closes");
            assertThat(opened).as("connections opened vs accepted by the server\n%s", run).isEqualTo(server.accepted());
            long peer = ((Number) closes.get("peer")).longValue();
            long local = ((Number) closes.get("local")).longValue();
            assertThat(peer + local).as("endings of the %d connections\n%s", opened, run).isEqualTo(opened);
            String closeWait = run.out().lines().filter(l -> l.startsWith("client CLOSE_WAIT before close"))
                    .findFirst().orElseThrow().replaceAll("\\D", "");
            assertThat(Long.parseLong(closeWait)).as("CLOSE_WAIT among the opened\n%s", run).isLessThanOrEqualTo(opened);
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void httpclientCountsNoConnectionOpenedAndNoEndingWhenEveryConnectIsRefused(@TempDir Path dir) throws Exception {
        Kernel.assumeLinux();
        Path json = dir.resolve("lab.json");
        CliRun run = LabRun.of("--mode", "httpclient", "--target", "http://127.0.0.1:" + portNobodyListensOn() + "/",
                "--requests", "100", "--concurrency", "4", "--json", json.toString());
        assertThat(run.exitCode()).as("%s", run).isZero();

        Map<String, Object> r = onlyRun(json);
        assertThat(((Number) ((Map<?, ?>) r.get("errors")).get("ECONNREFUSED")).longValue()).as("%s", run).isEqualTo(100);
        assertThat(((Number) r.get("connectionsOpened")).longValue()).as("connections opened\n%s", run).isZero();
        Map<?, ?> closes = (Map<?, ?>) r.get("closes");
        assertThat(((Number) closes.get("peer")).longValue()).as("peer endings\n%s", run).isZero();
        assertThat(((Number) closes.get("local")).longValue()).as("local endings\n%s", run).isZero();
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void naiveCountsAConnectionTheServerClosedBeforeAnsweringAsNotClosedHere(@TempDir Path dir) throws Exception {
        Kernel.assumeLinux();
        try (ServerSocket server = FreshPort.listen(InetAddress.getLoopbackAddress(), 200)) {
            Thread closer = new Thread(() -> acceptAndCloseAtOnce(server), "accept-and-close");
            closer.setDaemon(true);
            closer.start();
            Path json = dir.resolve("lab.json");
            CliRun run = LabRun.of("--mode", "naive", "--target", "http://127.0.0.1:" + server.getLocalPort() + "/",
                    "--requests", "200", "--concurrency", "4", "--json", json.toString());
            assertThat(run.exitCode()).as("%s", run).isZero();

            Map<String, Object> r = onlyRun(json);
            long opened = ((Number) r.get("connectionsOpened")).longValue();
            assertThat(opened).as("connections opened\n%s", run).isEqualTo(200);
            Map<?, ?> closes = (Map<?, ?>) r.get("closes");
            long peer = ((Number) closes.get("peer")).longValue();
            long reset = ((Number) closes.get("reset")).longValue();
            assertThat(((Number) closes.get("local")).longValue()).as("closed here first\n%s", run).isZero();
            assertThat(peer + reset).as("endings of the %d connections\n%s", opened, run).isEqualTo(opened);
            assertThat(((Number) r.get("timewaitCaused")).longValue()).as("TIME_WAIT caused\n%s", run).isZero();
            Map<?, ?> clientTimeWait = (Map<?, ?>) r.get("clientTimeWait");
            assertThat(((Number) clientTimeWait.get("end")).longValue()).as("the kernel's client TIME_WAIT\n%s", run)
                    .isZero();
        }
    }

    private static void acceptAndCloseAtOnce(ServerSocket server) {
        while (!server.isClosed()) {
            try {
                server.accept().close();
            } catch (IOException closed) {
                return;
            }
        }
    }

    /** A loopback port that was free a moment ago: connects to it are refused. */
    private static int portNobodyListensOn() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> onlyRun(Path json) throws IOException {
        return ((List<Map<String, Object>>) ((Map<String, Object>) MiniJson.parse(Files.readString(json))).get("runs")).get(0);
    }
}
