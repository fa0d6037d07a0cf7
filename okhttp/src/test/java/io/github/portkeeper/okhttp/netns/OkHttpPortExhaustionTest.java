package io.github.portkeeper.okhttp.netns;

import io.github.portkeeper.core.testing.Netns;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * OkHttp's eager eviction in a network namespace with 200 ephemeral ports and
 * {@code tcp_tw_reuse=0}: 32 threads over one client with the default pool (5 idle connections)
 * close a connection after most requests. Stock, each close is a FIN first and a TIME_WAIT, and
 * the ports run out (EADDRNOTAVAIL); with the close-owning socket factory the server closes
 * first (or, beyond the draining bound, the fallback resets), and every request succeeds.
 *
 * <p>Each workload runs in a child JVM ({@link EvictionWorkload}) in a namespace of its own
 * (core's {@link Netns}). Needs Linux, root and iproute2's {@code ip}; skipped otherwise, saying
 * which is missing.
 */
// Its workload runs in a child process in a network namespace of its own, so it runs beside
// this module's other tests (which stay one at a time): see the surefire configuration.
@Execution(ExecutionMode.CONCURRENT)
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
        Map<String, String> stock = inNamespace("stock");
        Map<String, String> factory = inNamespace("factory");

        assertThat(stock.get("portRange")).isEqualTo(PORT_RANGE.replace(' ', '-'));
        assertThat(stock.get("twReuse")).isEqualTo("0");
        assertThat(Integer.parseInt(stock.get("addressNotAvailable"))).as("stock: " + stock).isPositive();
        assertThat(Integer.parseInt(factory.get("failed"))).as("factory: " + factory).isZero();
        assertThat(Integer.parseInt(factory.get("succeeded"))).as("factory: " + factory).isEqualTo(REQUESTS);
        assertThat(Integer.parseInt(factory.get("clientTimeWait"))).as("factory: " + factory).isZero();
        assertThat(Integer.parseInt(factory.get("local"))).as("factory: " + factory).isZero();
    }

    private Map<String, String> inNamespace(String mode) throws Exception {
        try (Netns ns = Netns.create("pk-okhttp-" + mode)) {
            ns.sysctl("net.ipv4.ip_local_port_range", PORT_RANGE);
            ns.sysctl("net.ipv4.tcp_tw_reuse", "0");
            // Not ns.java: its children run C1-only, and OkHttp's stock eviction then closes too
            // slowly to exhaust the ports (126 TIME_WAIT and no EADDRNOTAVAIL seen that way).
            List<String> java = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), EvictionWorkload.class.getName(),
                    mode, String.valueOf(SERVER_PORT), String.valueOf(REQUESTS), String.valueOf(MAX_DRAINING));
            Netns.Child child = Netns.run(ns.exec(java), dir, mode, 200);
            String result = child.stdout().lines().filter(l -> l.startsWith(EvictionWorkload.RESULT_PREFIX)).reduce((a, b) -> b)
                    .orElseThrow(() -> new AssertionError("no RESULT line from the " + mode + " child (exited " + child.exited() + ")\n"
                            + child.context()));
            System.out.println("[OkHttpPortExhaustionTest] " + result);
            Map<String, String> map = new LinkedHashMap<>();
            for (String token : result.substring(EvictionWorkload.RESULT_PREFIX.length()).split(" ")) {
                int eq = token.indexOf('=');
                if (eq > 0) {
                    map.put(token.substring(0, eq), token.substring(eq + 1));
                }
            }
            return map;
        }
    }
}
