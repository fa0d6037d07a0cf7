package io.github.portkeeper.core.internal;

import static io.github.portkeeper.core.internal.KernelPortCounter.MAX_PERIOD_NANOS;
import static io.github.portkeeper.core.internal.KernelPortCounter.PERIOD_NANOS;

import io.github.portkeeper.core.PortBudgetSnapshot;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * When the {@link KernelPortCounter} reads the table of its own accord: which endpoints are due
 * a periodic read, and how long to wait before the next one (backing off while nothing moves).
 *
 * <p>Why apart: it is a policy over the pools' usage figures, with a state of its own (the
 * period and what the last read found); the counter's handshake with waiting leases and the
 * counting itself ({@link KernelTableCount}) read better without it.
 *
 * <p>Thread-safety: the reader's thread only.
 */
final class KernelReadSchedule {

    private final KernelCountedPools tracked;
    /** The periodic reads' current period and what the last periodic read found. */
    private long periodNanos = PERIOD_NANOS;
    private long lastFound;

    KernelReadSchedule(KernelCountedPools tracked) {
        this.tracked = tracked;
    }

    /**
     * Endpoints worth a periodic read: the JVM's pools use a tenth of the budget, others outside
     * the JVM hold ports, or TIME_WAIT of ours is still counted.
     */
    List<EndpointPool<?>> due() {
        List<EndpointPool<?>> due = new ArrayList<>();
        Map<List<InetSocketAddress>, Integer> jvmUse = new HashMap<>();
        List<Map.Entry<EndpointPool<?>, Integer>> all = tracked.now();
        Map<EndpointPool<?>, PortBudgetSnapshot.EndpointBudget> usage = new HashMap<>();
        for (Map.Entry<EndpointPool<?>, Integer> t : all) {
            EndpointPool<?> ep = t.getKey();
            PortBudgetSnapshot.EndpointBudget u = ep.ports.usage(t.getValue(), ep.engine.now());
            usage.put(ep, u);
            List<InetSocketAddress> addresses = lastAddresses(ep);
            if (addresses != null) {
                jvmUse.merge(addresses, u.live() + u.recentTimeWait(), Integer::sum);
            }
        }
        for (Map.Entry<EndpointPool<?>, Integer> t : all) {
            EndpointPool<?> ep = t.getKey();
            PortBudgetSnapshot.EndpointBudget u = usage.get(ep);
            int ours = u.live() + u.recentTimeWait();
            List<InetSocketAddress> addresses = lastAddresses(ep);
            int jvm = addresses == null ? ours : jvmUse.getOrDefault(addresses, ours);
            int outsideJvm = u.otherSockets() - (jvm - ours);
            // Our own TIME_WAITs leave our count after 60 s and the kernel's table a moment later
            // (its timer's granularity): until a read after that, they would stay counted as
            // other sockets. So an endpoint with TIME_WAIT of ours is read again (backing off).
            if (outsideJvm > 0 || u.recentTimeWait() > 0 || (jvm + Math.max(0, outsideJvm)) * 10 >= t.getValue()) {
                due.add(ep);
            }
        }
        return due;
    }

    /**
     * The wait before the next periodic read: {@link KernelPortCounter#PERIOD_NANOS} if the
     * counts moved since the last read or an endpoint has used half its budget, else twice the
     * last wait, up to {@link KernelPortCounter#MAX_PERIOD_NANOS}. Growth of the pools' own use
     * still asks for a read at once ({@link KernelPortCounter#beforeConnect}), whatever the period.
     */
    long nextPeriod(List<EndpointPool<?>> due) {
        long found = 1;
        boolean nearEnd = false;
        for (EndpointPool<?> ep : due) {
            Integer budget = tracked.budgetOf(ep);
            if (budget == null) {
                continue;
            }
            PortBudgetSnapshot.EndpointBudget u = ep.ports.usage(budget, ep.engine.now());
            found = 31 * (31 * (31 * found + u.live()) + u.recentTimeWait()) + u.otherSockets();
            nearEnd |= 2L * u.used() >= budget;
        }
        periodNanos = found == lastFound && !nearEnd ? Math.min(2 * periodNanos, MAX_PERIOD_NANOS) : PERIOD_NANOS;
        lastFound = found;
        return periodNanos;
    }

    /** The addresses {@code ep} was last counted toward (or is about to be); null if its name never resolved. */
    private static List<InetSocketAddress> lastAddresses(EndpointPool<?> ep) {
        EndpointAddresses.Resolved r = ep.ports.addresses.last();
        return r == null ? null : r.addresses();
    }
}
