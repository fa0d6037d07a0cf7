package io.github.portkeeper.core.netns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.fail;

import io.github.portkeeper.core.testing.Host;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

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
class KeepaliveAbortTest {

    private static final long CHILD_TIMEOUT_SECONDS = 60;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void keepaliveAbortOfIdleConnectionsIsAnAbortAndTeachesNoIdleTimeout() throws Exception {
        String os = System.getProperty("os.name", "");
        Assumptions.assumeTrue(os.toLowerCase(Locale.ROOT).startsWith("linux"), "needs Linux, this is " + os);
        Assumptions.assumeTrue(Host.isRoot(), "needs root to create network namespaces");
        Optional<String> ipFound = Host.executable("ip");
        Assumptions.assumeTrue(ipFound.isPresent(), "iproute2's 'ip' is not installed");
        String ip = ipFound.get();

        String tag = Long.toHexString(ProcessHandle.current().pid() % 0x1000) + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100, 0x1000));
        String clientNs = "pk-ka-c-" + tag;
        String serverNs = "pk-ka-s-" + tag;
        String clientDev = "pkc" + tag; // interface names: at most 15 characters
        String serverDev = "pks" + tag;
        int subnet = ThreadLocalRandom.current().nextInt(1, 250);
        String clientAddr = "10.213." + subnet + ".1";
        String serverAddr = "10.213." + subnet + ".2";

        KernelAgreementTest.Result add = KernelAgreementTest.run(ip, "netns", "add", clientNs);
        Assumptions.assumeTrue(add.exitCode() == 0, "cannot create a network namespace: " + add);
        Thread cleanup = new Thread(() -> deleteNamespaces(ip, clientNs, serverNs), "netns-cleanup-" + tag);
        Runtime.getRuntime().addShutdownHook(cleanup);
        Process server = null;
        try {
            check(KernelAgreementTest.run(ip, "netns", "add", serverNs));
            KernelAgreementTest.Result veth = KernelAgreementTest.run(ip, "-n", clientNs, "link", "add", clientDev, "type", "veth",
                    "peer", "name", serverDev, "netns", serverNs);
            Assumptions.assumeTrue(veth.exitCode() == 0, "cannot create a veth pair: " + veth);
            check(KernelAgreementTest.run(ip, "-n", clientNs, "addr", "add", clientAddr + "/24", "dev", clientDev));
            check(KernelAgreementTest.run(ip, "-n", serverNs, "addr", "add", serverAddr + "/24", "dev", serverDev));
            for (String[] nsDev : new String[][] {{clientNs, clientDev}, {serverNs, serverDev}, {clientNs, "lo"}, {serverNs, "lo"}}) {
                check(KernelAgreementTest.run(ip, "-n", nsDev[0], "link", "set", nsDev[1], "up"));
            }

            File serverOut = dir.resolve("server.out").toFile();
            server = new ProcessBuilder(java(ip, serverNs, "server", serverAddr))
                    .redirectOutput(serverOut).redirectError(dir.resolve("server.err").toFile()).start();
            Process s = server;
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                    .until(() -> !s.isAlive() || results(read(serverOut)).containsKey("port"));
            String port = results(read(serverOut)).get("port");
            assertThat(port).as("server started: %s %s", read(serverOut), read(dir.resolve("server.err").toFile())).isNotNull();

            Map<String, String> r = runClient(java(ip, clientNs, "client", serverAddr, port, ip, serverNs, serverDev));
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
            deleteNamespaces(ip, clientNs, serverNs);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway; deleting twice is harmless
            }
        }
    }

    private static List<String> java(String ip, String ns, String... args) {
        List<String> command = new ArrayList<>(List.of(ip, "netns", "exec", ns,
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), KeepaliveAbortWorkload.class.getName()));
        command.addAll(List.of(args));
        return command;
    }

    private Map<String, String> runClient(List<String> command) throws Exception {
        File out = dir.resolve("client.out").toFile();
        File err = dir.resolve("client.err").toFile();
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(command).redirectOutput(out).redirectError(err).start();
        boolean exited;
        try {
            exited = p.waitFor(CHILD_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
        long millis = (System.nanoTime() - t0) / 1_000_000;
        String context = "client took " + millis + " ms\n--- stdout ---\n" + read(out) + "\n--- stderr ---\n" + read(err);
        if (!exited) {
            fail("client JVM did not finish within " + CHILD_TIMEOUT_SECONDS + " s and was killed\n" + context);
        }
        assertThat(p.exitValue()).as("client exit code\n%s", context).isZero();
        Map<String, String> result = results(read(out));
        System.out.println("[KeepaliveAbortTest] client took " + millis + " ms: " + result);
        return result;
    }

    private static String read(File f) throws java.io.IOException {
        return f.exists() ? Files.readString(f.toPath(), StandardCharsets.UTF_8) : "";
    }

    private static Map<String, String> results(String output) {
        Map<String, String> map = new LinkedHashMap<>();
        output.lines().filter(l -> l.startsWith(KeepaliveAbortWorkload.RESULT_PREFIX)).forEach(l -> {
            String kv = l.substring(KeepaliveAbortWorkload.RESULT_PREFIX.length());
            int eq = kv.indexOf('=');
            map.put(kv.substring(0, eq), kv.substring(eq + 1));
        });
        return map;
    }

    private static void check(KernelAgreementTest.Result r) {
        if (r.exitCode() != 0) {
            fail("command failed: " + r);
        }
    }

    private static void deleteNamespaces(String ip, String... namespaces) {
        for (String ns : namespaces) {
            try {
                KernelAgreementTest.run(ip, "netns", "del", ns);
            } catch (java.io.IOException | InterruptedException e) {
                System.err.println("[KeepaliveAbortTest] could not delete network namespace " + ns + ": " + e);
            }
        }
    }
}
