package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;

import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Counts, from the kernel's socket table, every socket on this host toward an endpoint (other
 * pools' and processes' included), for the port budget. Read before an endpoint's first
 * connection, so a cold pool knows from the start what others hold, then once a second for the
 * endpoints where it matters.
 */
final class KernelPortCounter {

    /** How long a host name that did not resolve is left alone before the next try. */
    private static final long RESOLVE_RETRY_NANOS = 30_000_000_000L;

    private final KernelProbe probe = KernelProbe.linux();

    boolean isAvailable() {
        return probe.isAvailable();
    }

    /**
     * Reads the table once and refreshes the given endpoints' counts. Each endpoint's read lock
     * is held from its mark to its refresh: the housekeeper's reads and a lease's
     * {@link #readIfStale} must not interleave, or both would subtract the same mark.
     */
    void refresh(Iterable<? extends EndpointPool<?>> pools, long now) {
        Map<EndpointPool<?>, Long> marks = new LinkedHashMap<>();
        try {
            for (EndpointPool<?> ep : pools) {
                if (resolved(ep, now)) {
                    ep.ports.readLock.lock();
                    marks.put(ep, ep.ports.markBeforeRefresh());
                }
            }
            if (marks.isEmpty()) {
                return;
            }
            SocketTable table;
            try {
                table = probe.snapshot();
            } catch (RuntimeException e) {
                return; // The probe failing must never stop the pool; the budget keeps its own counts.
            }
            for (Map.Entry<EndpointPool<?>, Long> m : marks.entrySet()) {
                PortUsage ports = m.getKey().ports;
                int total = 0;
                for (TcpState state : TcpState.values()) {
                    if (state != TcpState.LISTEN) {
                        total += table.countToRemotes(state, ports.addresses);
                    }
                }
                ports.refreshed(total, m.getValue());
            }
        } finally {
            for (EndpointPool<?> ep : marks.keySet()) {
                ep.ports.readLock.unlock();
            }
        }
    }

    /**
     * Reads the table for one endpoint before its first connection, and when a tenth of the
     * budget has been opened toward it since the last read (a burst must not run past ports that
     * others took meanwhile). One thread reads; the others wait for its count.
     */
    void readIfStale(EndpointPool<?> ep, int budget, long now) {
        if (ep.ports.kernelKnown() && ep.ports.openedSinceRead() * 10 < budget) {
            return;
        }
        // A lock of its own, not the PortUsage monitor: that one guards the TIME_WAIT buckets,
        // which every lease and close touches, and must not wait for a read of the table.
        ep.ports.readLock.lock();
        try {
            if (!ep.ports.kernelKnown()) {
                refresh(List.of(ep), now);
                if (!ep.ports.kernelKnown()) {
                    ep.ports.refreshed(0, 0L); // unresolvable or unreadable: count ours only
                }
            } else if (ep.ports.openedSinceRead() * 10 >= budget) {
                refresh(List.of(ep), now);
            }
        } finally {
            ep.ports.readLock.unlock();
        }
    }

    private static boolean resolved(EndpointPool<?> ep, long now) {
        if (ep.ports.addresses != null) {
            return true;
        }
        if (now - ep.ports.lastResolveFailure < RESOLVE_RETRY_NANOS) {
            return false;
        }
        List<InetSocketAddress> out = EndpointAddresses.resolve(ep.endpoint);
        if (out.isEmpty()) {
            ep.ports.lastResolveFailure = now;
            return false;
        }
        ep.ports.addresses = out;
        return true;
    }
}
