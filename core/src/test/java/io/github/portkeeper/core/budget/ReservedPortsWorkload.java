package io.github.portkeeper.core.budget;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.PortBudgetExhaustedException;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.testing.ChildWorkload;
import io.github.portkeeper.core.testing.Host;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;

import static io.github.portkeeper.core.testing.ChildWorkload.result;

/**
 * The child process of {@link PortBudgetReservedPortsNamespaceTest}, run inside a network
 * namespace whose {@code ip_local_reserved_ports} keeps half of its 200-port range from
 * {@code connect()}. A pool with the default budget and {@link Retirement#local()} retires
 * connections to an echo server as fast as {@code threads} threads can (a TIME_WAIT each), until
 * each thread gets {@link PortBudgetExhaustedException} or another failure. Prints
 * {@code RESULT key=value} lines; exits 0, or 2 with a stack trace on an unexpected error. Not a
 * test itself.
 *
 * <p>Arguments: {@code serverPort threads}.
 */
public final class ReservedPortsWorkload {

    private ReservedPortsWorkload() {
    }

    public static void main(String[] args) {
        ChildWorkload.main(() -> run(Integer.parseInt(args[0]), Integer.parseInt(args[1])));
    }

    private static void run(int serverPort, int threads) throws Exception {
        result("portRange", Host.readSysctl("/proc/sys/net/ipv4/ip_local_port_range").replaceAll("\\s+", "-"));
        result("reserved", Host.readSysctl("/proc/sys/net/ipv4/ip_local_reserved_ports"));
        InetSocketAddress server = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), serverPort);
        Endpoint endpoint = Endpoint.of("127.0.0.1", serverPort);
        Failures failures = new Failures();
        Storm storm;
        try (HoldingServer echo = HoldingServer.start(server, true)) {
            Pool<SocketChannel> pool = Storm.pool("reserved");
            try {
                PortBudget budget = pool.portBudget().budget();
                result("budget", budget);
                result("budgetPerEndpoint", budget.perEndpoint());
                storm = Storm.run(pool, endpoint, threads, 1_000, failures);
                result("kernelTimeWait", KernelProbe.linux().snapshot().countToRemote(TcpState.TIME_WAIT, server));
            } finally {
                pool.close();
            }
        }
        PortBudgetExhaustedException exhausted = storm.firstExhausted();
        result("connections", storm.connections());
        result("exhausted", storm.exhaustedAfterMillis().size());
        result("exhaustedMessage", exhausted == null ? "none" : exhausted.getMessage());
        result("eaddrnotavail", failures.addressNotAvailable());
        result("otherErrors", failures.other());
        result("firstError", failures.first());
    }
}
