package io.github.portkeeper.core.budget;

import io.github.portkeeper.core.testing.Host;
import io.github.portkeeper.core.testing.Netns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The port budget against a kernel that keeps ports from {@code connect()}: in a network
 * namespace with a 200-port {@code ip_local_port_range} of which {@code ip_local_reserved_ports}
 * reserves the lower half, and {@code tcp_tw_reuse=0}, a child JVM ({@link ReservedPortsWorkload})
 * retires connections with {@code Retirement.local()} as fast as it can. The kernel hands out
 * only the 100 unreserved ports, so the budget must be 80% of those, and the storm must end in
 * {@code PortBudgetExhaustedException}, never in EADDRNOTAVAIL.
 *
 * <p>Needs Linux, root and iproute2's {@code ip}; skipped otherwise, saying which is missing. The
 * namespace is always deleted.
 */
// Its workload runs in a child process in a network namespace of its own, so it runs beside
// this module's other tests (which stay one at a time): see the surefire configuration.
@Execution(ExecutionMode.CONCURRENT)
class PortBudgetReservedPortsNamespaceTest {

    private static final int SERVER_PORT = 18111;
    private static final int THREADS = 8;
    private static final int USABLE = 100;
    private static final int BUDGET = 80; // the default 80% of the 100 ports connect() may use
    private static final long CHILD_TIMEOUT_SECONDS = 90;

    @TempDir
    Path dir;

    private Netns ns;

    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void reservedPortsAreLeftOutOfTheBudgetSoAStormMeetsTheBudgetNotEaddrnotavail() throws Exception {
        ns = Netns.create("pk-reserved");
        ns.sysctl("net.ipv4.ip_local_port_range", "40000 40199");
        ns.sysctl("net.ipv4.ip_local_reserved_ports", "40000-40099");
        ns.sysctl("net.ipv4.tcp_tw_reuse", "0");

        Netns.Child child = Netns.run(ns.java(ReservedPortsWorkload.class, String.valueOf(SERVER_PORT),
                String.valueOf(THREADS)), dir, "child", CHILD_TIMEOUT_SECONDS);
        String context = child.context();
        child.requireSuccess(CHILD_TIMEOUT_SECONDS);
        Map<String, String> r = Host.results(child.stdout());

        assertThat(r.get("reserved")).as("ip_local_reserved_ports in the namespace\n%s", context).isEqualTo("40000-40099");
        assertThat(r.get("budget")).as("%s", context)
                .isEqualTo("PortBudget{range=40000-40199, reserved=100, share=0.8, perEndpoint=80, kernel=true}");
        assertThat(Integer.parseInt(r.get("eaddrnotavail"))).as("EADDRNOTAVAIL in the storm (%s)\n%s",
                r.get("firstError"), context).isZero();
        assertThat(Integer.parseInt(r.get("otherErrors"))).as("other failures (%s)\n%s", r.get("firstError"), context)
                .isZero();
        assertThat(Integer.parseInt(r.get("exhausted"))).as("storm threads stopped by the budget\n%s", context)
                .isEqualTo(THREADS);
        int connections = Integer.parseInt(r.get("connections"));
        // Never past the budget; a kernel-count refresh racing the storm may hold back a few more.
        assertThat(connections).as("connections retired\n%s", context).isBetween(BUDGET - 15, BUDGET);
        assertThat(Integer.parseInt(r.get("kernelTimeWait"))).as("kernel TIME_WAIT toward the server\n%s", context)
                .isBetween(connections - 2, connections).isLessThan(USABLE);
    }

    @AfterEach
    void deleteNamespace() {
        if (ns != null) {
            ns.close();
        }
    }
}
