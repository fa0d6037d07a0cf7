package io.github.portkeeper.okhttp.netns;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

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

import static org.assertj.core.api.Assertions.assertThat;

/**
 * OkHttp's eager eviction in a network namespace with 200 ephemeral ports and
 * {@code tcp_tw_reuse=0}: 32 threads over one client with the default pool (5 idle connections)
 * close a connection after most requests. Stock, each close is a FIN first and a TIME_WAIT, and
 * the ports run out (EADDRNOTAVAIL); with the close-owning socket factory the server closes
 * first (or, beyond the draining bound, the fallback resets), and every request succeeds.
 *
 * <p>Each workload runs in a child JVM ({@link EvictionWorkload}) started with
 * {@code ip netns exec} in a namespace of its own. Needs Linux, root and iproute2's {@code ip};
 * skipped otherwise.
 */
class OkHttpPortExhaustionTest {

    private static final String PORT_RANGE = "40000 40199";
    private static final int SERVER_PORT = 18080;
    private static final int REQUESTS = 3_000;
    /** Half the port range: room for the connections in use while the rest drain or reset. */
    private static final int MAX_DRAINING = 100;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void eagerEvictionExhaustsPortsStockButNotWithTheFactory() throws Exception {
        String os = System.getProperty("os.name", "");
        Assumptions.assumeTrue(os.toLowerCase(Locale.ROOT).startsWith("linux"), "needs Linux, this is " + os);
        Assumptions.assumeTrue(isRoot(), "needs root to create a network namespace");
        Optional<String> ip = findExecutable("ip");
        Assumptions.assumeTrue(ip.isPresent(), "iproute2's 'ip' is not installed");
        Optional<String> sysctl = findExecutable("sysctl");
        Assumptions.assumeTrue(sysctl.isPresent(), "'sysctl' is not installed");

        Map<String, String> stock = inNamespace(ip.get(), sysctl.get(), "stock");
        Map<String, String> factory = inNamespace(ip.get(), sysctl.get(), "factory");

        assertThat(stock.get("portRange")).isEqualTo(PORT_RANGE.replace(' ', '-'));
        assertThat(stock.get("twReuse")).isEqualTo("0");
        assertThat(Integer.parseInt(stock.get("addressNotAvailable"))).as("stock: " + stock).isPositive();
        assertThat(Integer.parseInt(factory.get("failed"))).as("factory: " + factory).isZero();
        assertThat(Integer.parseInt(factory.get("succeeded"))).as("factory: " + factory).isEqualTo(REQUESTS);
        assertThat(Integer.parseInt(factory.get("clientTimeWait"))).as("factory: " + factory).isZero();
        assertThat(Integer.parseInt(factory.get("local"))).as("factory: " + factory).isZero();
    }

    private Map<String, String> inNamespace(String ip, String sysctl, String mode) throws Exception {
        String ns = "pk-okhttp-" + ProcessHandle.current().pid() + "-" + mode + "-"
                + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000));
        String add = run(ip, "netns", "add", ns);
        Assumptions.assumeTrue(add.startsWith("0:"), "cannot create a network namespace: " + add);
        try {
            check(run(ip, "netns", "exec", ns, ip, "link", "set", "lo", "up"));
            check(run(ip, "netns", "exec", ns, sysctl, "-w", "net.ipv4.ip_local_port_range=" + PORT_RANGE));
            check(run(ip, "netns", "exec", ns, sysctl, "-w", "net.ipv4.tcp_tw_reuse=0"));
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> command = List.of(ip, "netns", "exec", ns, java, "-Xmx256m", "-XX:+UseSerialGC",
                    "-cp", System.getProperty("java.class.path"), EvictionWorkload.class.getName(),
                    mode, String.valueOf(SERVER_PORT), String.valueOf(REQUESTS), String.valueOf(MAX_DRAINING));
            File out = dir.resolve(mode + ".out").toFile();
            File err = dir.resolve(mode + ".err").toFile();
            Process p = new ProcessBuilder(command).redirectOutput(out).redirectError(err).start();
            boolean exited = p.waitFor(200, TimeUnit.SECONDS);
            if (!exited) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            String stdout = Files.readString(out.toPath(), StandardCharsets.UTF_8);
            String context = mode + " child (exited " + exited + ")\n" + stdout + "\n" + tail(Files.readString(err.toPath(), StandardCharsets.UTF_8));
            String result = stdout.lines().filter(l -> l.startsWith(EvictionWorkload.RESULT_PREFIX)).reduce((a, b) -> b)
                    .orElseThrow(() -> new AssertionError("no RESULT line: " + context));
            System.out.println("[OkHttpPortExhaustionTest] " + result);
            Map<String, String> map = new LinkedHashMap<>();
            for (String token : result.substring(EvictionWorkload.RESULT_PREFIX.length()).split(" ")) {
                int eq = token.indexOf('=');
                if (eq > 0) {
                    map.put(token.substring(0, eq), token.substring(eq + 1));
                }
            }
            return map;
        } finally {
            run(ip, "netns", "del", ns);
        }
    }

    private static String tail(String s) {
        return s.length() <= 4_000 ? s : "..." + s.substring(s.length() - 4_000);
    }

    private static void check(String result) {
        assertThat(result).startsWith("0:");
    }

    /** Runs a short command; returns "exit code: output". */
    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        boolean exited = p.waitFor(15, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            return "-1: timed out: " + String.join(" ", command);
        }
        return p.exitValue() + ": " + new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    }

    private static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:")).map(l -> l.split("\\s+"))
                    .anyMatch(f -> f.length > 2 && f[2].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }

    private static Optional<String> findExecutable(String name) {
        String path = System.getenv().getOrDefault("PATH", "");
        return Stream.concat(Arrays.stream(path.split(File.pathSeparator)), Stream.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"))
                .filter(d -> !d.isEmpty()).map(d -> Path.of(d, name)).filter(Files::isExecutable).map(Path::toString).findFirst();
    }
}
