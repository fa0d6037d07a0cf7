package io.github.portkeeper.cli.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.cli.CliRun;
import io.github.portkeeper.test.Kernel;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The verdict's sentence on the naive mode follows its figures and where the server is. */
class NaiveVerdictTest {

    private HttpServer server;

    @AfterEach
    void stopServer() {
        if (server != null) {
            server.stop(0);
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aSteadyStateFarBelowThePortRangeIsGivenAsItsShareNotAsALargeOne() throws Exception {
        Kernel.assumeLinux();
        assumeTrue(HostFacts.read().known(), "no /proc/sys: the verdict has no port range to compare with");
        // About 10 answers a second from one client thread: some 600 TIME_WAIT in steady state.
        start(InetAddress.getByName("127.0.0.1"), 100);
        CliRun run = LabRun.of("--mode", "naive", "--target", "http://127.0.0.1:" + server.getAddress().getPort() + "/",
                "--requests", "15", "--concurrency", "1");

        assertThat(run.exitCode()).as("%s", run).isZero();
        String verdict = verdict(run);
        assertThat(verdict).as("%s", run).doesNotContain("a large share")
                .containsPattern("TIME_WAIT sockets in steady state, \\d% of the [\\d,]+ ports");
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void anIpv6LoopbackTargetIsTreatedAsLoopback() throws Exception {
        Kernel.assumeLinux();
        HostFacts host = HostFacts.read();
        assumeTrue(host.known() && !"0".equals(host.twReuse()), "tcp_tw_reuse is 0 or unknown: no loopback reuse");
        try {
            start(InetAddress.getByName("::1"), 0);
        } catch (IOException e) {
            assumeTrue(false, "no IPv6 loopback here: " + e);
        }
        CliRun run = LabRun.of("--mode", "naive", "--target", "http://[::1]:" + server.getAddress().getPort() + "/",
                "--requests", "50", "--concurrency", "2");

        assertThat(run.exitCode()).as("%s", run).isZero();
        assertThat(verdict(run)).as("%s", run).contains("On loopback the kernel hides this");
    }

    private void start(InetAddress address, long delayMillis) throws IOException {
        server = HttpServer.create(new InetSocketAddress(address, 0), 50);
        server.createContext("/", exchange -> {
            if (delayMillis > 0) {
                try {
                    Thread.sleep(delayMillis); // a slow server, not a wait for anything
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            byte[] body = "ok\n".getBytes(StandardCharsets.US_ASCII);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
    }

    private static String verdict(CliRun run) {
        String out = run.out().replace('\n', ' ');
        return out.substring(out.indexOf("Verdict:"));
    }
}
