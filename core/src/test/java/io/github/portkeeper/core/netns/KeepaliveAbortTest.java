package io.github.portkeeper.core.netns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.portkeeper.core.testing.Host;
import io.github.portkeeper.core.testing.Netns;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * The kernel itself aborts idle pooled connections: TCP keepalive (idle 1 s, interval 1 s,
 * 2 probes) gives up with ETIMEDOUT once the path to the server silently drops every packet.
 * The pool must record that as {@code ABORTED} ({@code closed.by=aborted}), never as the
 * server's idle close: no learned idle timeout, no TIME_WAIT counted, none in the kernel.
 *
 * <p>Client and server run in two network namespaces joined by a veth pair, each in a child JVM
 * ({@link KeepaliveAbortWorkload}); the path is cut by deleting the server's address, so its
 * namespace drops what arrives without answering or resetting. Needs Linux, root and
 * iproute2's {@code ip} with veth support; skipped otherwise.
 */
// Its workload runs in a child process in a network namespace of its own, so it runs beside
// this module's other tests (which stay one at a time): see the surefire configuration.
@Execution(ExecutionMode.CONCURRENT)
class KeepaliveAbortTest {

    private static final long CHILD_TIMEOUT_SECONDS = 60;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void keepaliveAbortOfIdleConnectionsIsAnAbortAndTeachesNoIdleTimeout() throws Exception {
        String tag = Long.toHexString(ProcessHandle.current().pid() % 0x1000) + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100, 0x1000));
        String clientDev = "pkc" + tag; // interface names: at most 15 characters
        String serverDev = "pks" + tag;
        int subnet = ThreadLocalRandom.current().nextInt(1, 250);
        String clientAddr = "10.213." + subnet + ".1";
        String serverAddr = "10.213." + subnet + ".2";

        Process server = null;
        try (Netns clientNs = Netns.named("pk-ka-c-" + tag); Netns serverNs = Netns.named("pk-ka-s-" + tag)) {
            try {
                Host.Result veth = clientNs.ipCommand("link", "add", clientDev, "type", "veth",
                        "peer", "name", serverDev, "netns", serverNs.name());
                Assumptions.assumeTrue(veth.exitCode() == 0, "cannot create a veth pair: " + veth);
                clientNs.check("addr", "add", clientAddr + "/24", "dev", clientDev);
                serverNs.check("addr", "add", serverAddr + "/24", "dev", serverDev);
                clientNs.check("link", "set", clientDev, "up");
                serverNs.check("link", "set", serverDev, "up");

                File serverOut = dir.resolve("server.out").toFile();
                server = new ProcessBuilder(serverNs.java(KeepaliveAbortWorkload.class, "server", serverAddr))
                        .redirectOutput(serverOut).redirectError(dir.resolve("server.err").toFile()).start();
                Process s = server;
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                        .until(() -> !s.isAlive() || Host.results(read(serverOut)).containsKey("port"));
                String port = Host.results(read(serverOut)).get("port");
                assertThat(port).as("server started: %s %s", read(serverOut), read(dir.resolve("server.err").toFile())).isNotNull();

                Map<String, String> r = runClient(clientNs.java(KeepaliveAbortWorkload.class, "client", serverAddr, port, clientNs.ip(), serverNs.name(), serverDev));
                String context = r.toString();
                int n = KeepaliveAbortWorkload.CONNECTIONS;
                assertThat(r.get("idleBeforeCut")).as("idle pooled connections before the cut\n%s", context).isEqualTo(String.valueOf(n));
                assertThat(r.get("establishedBeforeCut")).as("kernel: established before the cut\n%s", context).isEqualTo(String.valueOf(n));
                assertThat(r.get("ending.aborted")).as("connections ended ABORTED\n%s", context).isEqualTo(String.valueOf(n));
                assertThat(r.get("closedByAborted")).as("closed{closed.by=aborted}\n%s", context).isEqualTo(String.valueOf(n));
                assertThat(r.get("ending.peer")).as("keepalive aborts counted as the server's close\n%s", context).isEqualTo("0");
                assertThat(r.get("reasons")).as("close reasons\n%s", context).isEqualTo("[ABORTED]");
                assertThat(r.get("learnedIdleTimeout")).as("idle timeout learned from aborts\n%s", context).isEqualTo("none");
                assertThat(r.get("timewaitCaused")).as("timewait.caused\n%s", context).isEqualTo("0");
                assertThat(r.get("kernelTimeWait")).as("kernel: client TIME_WAIT toward the server\n%s", context).isEqualTo("0");
                assertThat(r.get("kernelOtherSockets")).as("kernel: client sockets left toward the server\n%s", context).isEqualTo("0");
            } finally {
                if (server != null) {
                    server.getOutputStream().close(); // its standard input ends: it exits
                    if (!server.waitFor(10, TimeUnit.SECONDS)) {
                        server.destroyForcibly();
                        server.waitFor(10, TimeUnit.SECONDS);
                    }
                }
            }
        }
    }

    private Map<String, String> runClient(List<String> command) throws Exception {
        Netns.Child client = Netns.run(command, dir, "client", CHILD_TIMEOUT_SECONDS).requireSuccess(CHILD_TIMEOUT_SECONDS);
        Map<String, String> result = Host.results(client.stdout());
        System.out.println("[KeepaliveAbortTest] client took " + client.millis() + " ms: " + result);
        return result;
    }

    private static String read(File f) throws java.io.IOException {
        return f.exists() ? Files.readString(f.toPath(), StandardCharsets.UTF_8) : "";
    }
}
