package io.github.portkeeper.core.netns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 3 acceptance, "Port exhaustion reproduced" (DESIGN §1, §7): in a network namespace of
 * its own with a 100-port {@code ip_local_port_range} and {@code tcp_tw_reuse=0}, a client that
 * opens a connection per request and closes first runs out of ephemeral ports (EADDRNOTAVAIL)
 * within about 100 connections, while the same kind of exchanges through {@code SocketPool}
 * complete 5,000 times without a failure and leave no TIME_WAIT behind.
 *
 * <p>The workload runs in a child JVM ({@link ExhaustionWorkload}) started with
 * {@code ip netns exec}, since a JVM cannot move its own threads into another namespace.
 * Needs Linux, root and iproute2's {@code ip}; skipped otherwise.
 */
class PortExhaustionTest {

    private static final String PORT_RANGE = "40000 40099";
    private static final int PORT_RANGE_SIZE = 100;
    /** Server ports, outside the ephemeral range so a listener never takes one of its ports. */
    private static final int NAIVE_SERVER_PORT = 18001;
    private static final int POOL_SERVER_PORT = 18002;
    private static final int POOL_EXCHANGES = 5_000;
    private static final int CONCURRENCY = 8;
    private static final int MAX_PER_ENDPOINT = 8;

    private static final long COMMAND_TIMEOUT_SECONDS = 15;
    private static final long CHILD_TIMEOUT_SECONDS = 120;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void naiveClientExhaustsPortsWhilePoolCompletesEveryExchange() throws Exception {
        String os = System.getProperty("os.name", "");
        Assumptions.assumeTrue(os.toLowerCase(Locale.ROOT).startsWith("linux"), "needs Linux, this is " + os);
        Assumptions.assumeTrue(isRoot(), "needs root to create a network namespace");
        Optional<String> ip = findExecutable("ip");
        Assumptions.assumeTrue(ip.isPresent(), "iproute2's 'ip' is not installed");
        Optional<String> sysctl = findExecutable("sysctl");
        Assumptions.assumeTrue(sysctl.isPresent(), "'sysctl' is not installed");

        String ns = "pk-test-" + ProcessHandle.current().pid() + "-"
                + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000));
        Result add = run(ip.get(), "netns", "add", ns);
        Assumptions.assumeTrue(add.exitCode == 0, "cannot create a network namespace: " + add);
        Thread cleanup = new Thread(() -> deleteNamespace(ip.get(), ns), "netns-cleanup-" + ns);
        Runtime.getRuntime().addShutdownHook(cleanup); // should the test JVM be killed mid-run
        try {
            check(run(ip.get(), "netns", "exec", ns, ip.get(), "link", "set", "lo", "up"));
            check(run(ip.get(), "netns", "exec", ns, sysctl.get(), "-w", "net.ipv4.ip_local_port_range=" + PORT_RANGE));
            check(run(ip.get(), "netns", "exec", ns, sysctl.get(), "-w", "net.ipv4.tcp_tw_reuse=0"));

            Child child = runChild(ip.get(), ns);
            Map<String, String> r = child.result;
            String context = child.toString();

            // The namespace was set up as asked.
            assertThat(r.get("portRange")).as("ip_local_port_range in the namespace\n%s", context)
                    .isEqualTo(PORT_RANGE.replace(' ', '-'));
            assertThat(r.get("twReuse")).as("tcp_tw_reuse in the namespace\n%s", context).isEqualTo("0");

            // (1) naive: EADDRNOTAVAIL within about a port range's worth of connections.
            String naiveError = r.get("naiveError").replace('_', ' ');
            int naiveSucceeded = intOf(r, "naiveSucceeded");
            assertThat(naiveError).as("the naive client must fail\n%s", context).isNotEqualTo("none");
            assertThat(naiveError).as("naive failure must be EADDRNOTAVAIL\n%s", context)
                    .contains("Cannot assign requested address")
                    .matches("^java\\.net\\.(BindException|NoRouteToHostException):.*");
            assertThat(naiveSucceeded).as("naive connections before EADDRNOTAVAIL\n%s", context)
                    .isBetween(PORT_RANGE_SIZE / 2, PORT_RANGE_SIZE);
            assertThat(intOf(r, "naiveTimeWait")).as("kernel-observed client TIME_WAIT after the naive run\n%s", context)
                    .isBetween(naiveSucceeded - 2, naiveSucceeded);

            // (2) pool: every exchange succeeds, on ports whose other 4-tuples sit in TIME_WAIT.
            assertThat(intOf(r, "poolFailures")).as("pool failures (first: %s)\n%s", r.get("poolError"), context)
                    .isZero();
            assertThat(intOf(r, "poolExchanges")).as("pool exchanges\n%s", context).isEqualTo(POOL_EXCHANGES);
            int poolPorts = intOf(r, "poolLocalPorts");
            assertThat(poolPorts).as("connections the pool opened\n%s", context).isBetween(1, MAX_PER_ENDPOINT);
            assertThat(intOf(r, "poolLocalPortsInRange")).as("pool ports from the narrow range\n%s", context)
                    .isEqualTo(poolPorts);
            if (intOf(r, "naiveTimeWait") == PORT_RANGE_SIZE) {
                // Every local port holds a TIME_WAIT toward the first server, yet connect() to the
                // second server got one: TIME_WAIT blocks a 4-tuple, not a local port.
                assertThat(intOf(r, "poolPortsAlsoInTimeWait")).as("pool ports also in TIME_WAIT toward the naive server\n%s", context)
                        .isEqualTo(poolPorts);
            }
            assertThat(intOf(r, "poolTimeWait")).as("kernel-observed client TIME_WAIT toward the pool server\n%s", context)
                    .isZero();
            assertThat(intOf(r, "poolTimeWaitAfterClose"))
                    .as("client TIME_WAIT toward the pool server after pool.close() (default fallback RESET)\n%s", context)
                    .isZero();
        } finally {
            deleteNamespace(ip.get(), ns);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway; deleting twice is harmless
            }
        }
    }

    private Child runChild(String ip, String ns) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = List.of(ip, "netns", "exec", ns, java,
                "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"),
                ExhaustionWorkload.class.getName(),
                String.valueOf(NAIVE_SERVER_PORT), String.valueOf(POOL_SERVER_PORT),
                String.valueOf(POOL_EXCHANGES), String.valueOf(CONCURRENCY), String.valueOf(MAX_PER_ENDPOINT));
        File out = dir.resolve("child.out").toFile();
        File err = dir.resolve("child.err").toFile();
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
        String stdout = Files.readString(out.toPath(), StandardCharsets.UTF_8);
        String stderr = Files.readString(err.toPath(), StandardCharsets.UTF_8);
        String context = "child command: " + String.join(" ", command) + "\nchild took " + millis + " ms"
                + "\n--- child stdout ---\n" + tail(stdout) + "\n--- child stderr ---\n" + tail(stderr);
        if (!exited) {
            fail("child JVM did not finish within " + CHILD_TIMEOUT_SECONDS + " s and was killed\n" + context);
        }
        assertThat(p.exitValue()).as("child exit code\n%s", context).isZero();
        Map<String, String> result = stdout.lines()
                .filter(l -> l.startsWith(ExhaustionWorkload.RESULT_PREFIX))
                .reduce((a, b) -> b)
                .map(PortExhaustionTest::parse)
                .orElseThrow(() -> new AssertionError("child printed no RESULT line\n" + context));
        System.out.println("[PortExhaustionTest] child took " + millis + " ms: "
                + stdout.lines().filter(l -> l.startsWith(ExhaustionWorkload.RESULT_PREFIX)).reduce((a, b) -> b).orElse(""));
        return new Child(result, context);
    }

    private record Child(Map<String, String> result, String context) {
        @Override
        public String toString() {
            return context;
        }
    }

    private static Map<String, String> parse(String line) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String token : line.substring(ExhaustionWorkload.RESULT_PREFIX.length()).trim().split(" ")) {
            int eq = token.indexOf('=');
            if (eq > 0) {
                map.put(token.substring(0, eq), token.substring(eq + 1));
            }
        }
        return map;
    }

    private static int intOf(Map<String, String> result, String key) {
        String value = result.get(key);
        if (value == null) {
            throw new AssertionError("RESULT line has no " + key + ": " + result);
        }
        return Integer.parseInt(value);
    }

    private static String tail(String s) {
        return s.length() <= 8_000 ? s : "...\n" + s.substring(s.length() - 8_000);
    }

    private static boolean isRoot() {
        try {
            // "Uid:	real	effective	saved	fs"
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:"))
                    .map(l -> l.split("\\s+"))
                    .anyMatch(f -> f.length > 2 && f[2].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }

    private static Optional<String> findExecutable(String name) {
        String path = System.getenv().getOrDefault("PATH", "");
        return Stream.concat(Arrays.stream(path.split(File.pathSeparator)),
                        Stream.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"))
                .filter(d -> !d.isEmpty())
                .map(d -> Path.of(d, name))
                .filter(Files::isExecutable)
                .map(Path::toString)
                .findFirst();
    }

    private static void deleteNamespace(String ip, String ns) {
        try {
            run(ip, "netns", "del", ns);
        } catch (IOException | InterruptedException e) {
            System.err.println("[PortExhaustionTest] could not delete network namespace " + ns + ": " + e);
        }
    }

    private static void check(Result r) {
        if (r.exitCode != 0) {
            fail("command failed: " + r);
        }
    }

    private record Result(List<String> command, int exitCode, String output) {
        @Override
        public String toString() {
            return String.join(" ", command) + " -> exit " + exitCode + ": " + output.trim();
        }
    }

    /** Runs a short command, output and errors merged, killed after {@link #COMMAND_TIMEOUT_SECONDS}. */
    private static Result run(String... command) throws IOException, InterruptedException {
        Path log = Files.createTempFile("pk-netns-cmd", ".log");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean exited = p.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            if (!exited) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            return new Result(List.of(command), exited ? p.exitValue() : -1,
                    exited ? output : output + " (timed out after " + COMMAND_TIMEOUT_SECONDS + " s)");
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
