package io.github.portkeeper.core.netns;

import io.github.portkeeper.core.testing.Netns;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Port exhaustion reproduced: in a network namespace of its own with a 100-port
 * {@code ip_local_port_range} and {@code tcp_tw_reuse=0}, a client that
 * opens a connection per request and closes first runs out of ephemeral ports (EADDRNOTAVAIL)
 * within about 100 connections, while the same kind of exchanges through {@code SocketPool}
 * complete 5,000 times without a failure and leave no TIME_WAIT behind.
 *
 * <p>The workload runs in a child JVM ({@link ExhaustionWorkload}) started with
 * {@code ip netns exec}, since a JVM cannot move its own threads into another namespace.
 * Needs Linux, root and iproute2's {@code ip}; skipped otherwise.
 */
// Its workload runs in a child process in a network namespace of its own, so it runs beside
// this module's other tests (which stay one at a time): see the surefire configuration.
@Execution(ExecutionMode.CONCURRENT)
class PortExhaustionTest {

    private static final String PORT_RANGE = "40000 40099";
    private static final int PORT_RANGE_SIZE = 100;
    /** Server ports, outside the ephemeral range so a listener never takes one of its ports. */
    private static final int NAIVE_SERVER_PORT = 18001;
    private static final int POOL_SERVER_PORT = 18002;
    private static final int POOL_EXCHANGES = 5_000;
    private static final int CONCURRENCY = 8;
    private static final int MAX_PER_ENDPOINT = 8;

    private static final long CHILD_TIMEOUT_SECONDS = 120;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void naiveClientExhaustsPortsWhilePoolCompletesEveryExchange() throws Exception {
        try (Netns ns = Netns.create("pk-test")) {
            ns.sysctl("net.ipv4.ip_local_port_range", PORT_RANGE);
            ns.sysctl("net.ipv4.tcp_tw_reuse", "0");

            Child child = runChild(ns);
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
        }
    }

    private Child runChild(Netns ns) throws Exception {
        Netns.Child child = Netns.run(ns.java(ExhaustionWorkload.class,
                String.valueOf(NAIVE_SERVER_PORT), String.valueOf(POOL_SERVER_PORT),
                String.valueOf(POOL_EXCHANGES), String.valueOf(CONCURRENCY), String.valueOf(MAX_PER_ENDPOINT)),
                dir, "child", CHILD_TIMEOUT_SECONDS).requireSuccess(CHILD_TIMEOUT_SECONDS);
        String context = child.context();
        String line = child.stdout().lines()
                .filter(l -> l.startsWith(ExhaustionWorkload.RESULT_PREFIX))
                .reduce((first, last) -> last)
                .orElseThrow(() -> new AssertionError("child printed no RESULT line\n" + context));
        System.out.println("[PortExhaustionTest] child took " + child.millis() + " ms: " + line);
        return new Child(parse(line), context);
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
}
