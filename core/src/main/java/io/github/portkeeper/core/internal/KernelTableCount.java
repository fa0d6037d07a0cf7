package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;

import java.net.InetSocketAddress;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.function.Consumer;

/**
 * One read of the kernel's table for the {@link KernelPortCounter}: which tracked endpoints'
 * addresses are known, the marks and refreshes of their counts around the read, and the memory
 * of the last table (with the endpoints counted from it) that an endpoint pool coming back may
 * be seeded from.
 *
 * <p>Why apart: resolving and counting are the work of a read; when to read, and the handshake
 * with the leases waiting for one, are the counter's and read better without it.
 *
 * <p>Thread-safety: {@link #count} runs on the reader's thread only; the last table and what was
 * counted from it are read from any thread.
 */
final class KernelTableCount {

    private final KernelProbe probe;
    private final KernelCountedPools tracked;
    private volatile long tableReads;
    /** The last table read, for endpoint pools that come back (see {@link KernelPortCounter}). */
    private volatile SocketTable lastTable;
    private volatile long lastTableAt = Long.MIN_VALUE / 2;
    /**
     * Per pool engine (weakly), the endpoints counted from {@link #lastTable} with their resolved
     * addresses: only an endpoint pool of the same pool that comes back may be seeded from it.
     */
    private final Map<PoolEngine<?>, Map<Endpoint, EndpointAddresses.Resolved>> countedInLastTable =
            Collections.synchronizedMap(new WeakHashMap<>());

    KernelTableCount(KernelProbe probe, KernelCountedPools tracked) {
        this.probe = probe;
        this.tracked = tracked;
    }

    /** Reads of the kernel's socket table so far. */
    long tableReads() {
        return tableReads;
    }

    /** The last table read, or null before the first. */
    SocketTable lastTable() {
        return lastTable;
    }

    /** The {@link System#nanoTime()} of the last table read, far in the past before the first. */
    long lastTableAt() {
        return lastTableAt;
    }

    /** The addresses {@code ep}'s endpoint was counted toward in the last table, by the same pool; else null. */
    EndpointAddresses.Resolved countedInLastTable(EndpointPool<?> ep) {
        synchronized (countedInLastTable) {
            Map<Endpoint, EndpointAddresses.Resolved> ofPool = countedInLastTable.get(ep.engine);
            return ofPool == null ? null : ofPool.get(ep.endpoint);
        }
    }

    /**
     * Counts the given endpoints from one table, and with them every tracked endpoint that
     * reaches the same server (the same table serves them at no cost). Each endpoint's read
     * lock is held from its mark to its refresh. Every tracked endpoint's addresses are looked
     * at (and looked up again, off this thread, once their time is up); an endpoint whose name
     * is being looked up for the first time is left for a later read, which {@code lookedUp}
     * asks for once the lookup found new addresses.
     *
     * @return the given endpoints that need nothing more: counted, or their names do not
     *         resolve, or no longer tracked
     */
    Set<EndpointPool<?>> count(Set<EndpointPool<?>> pools, Consumer<EndpointPool<?>> lookedUp) {
        Map<EndpointPool<?>, EndpointAddresses.Resolved> addressesOf = new HashMap<>();
        List<Map.Entry<EndpointPool<?>, Integer>> all = tracked.now();
        for (Map.Entry<EndpointPool<?>, Integer> t : all) {
            EndpointPool<?> ep = t.getKey();
            EndpointAddresses.Resolved r = ep.ports.addresses.currentResolved(ep.endpoint, ep.engine.now(),
                    () -> lookedUp.accept(ep));
            if (r != null) {
                addressesOf.put(ep, r);
            }
        }
        Set<List<InetSocketAddress>> servers = new HashSet<>();
        Set<EndpointPool<?>> settled = new HashSet<>();
        for (EndpointPool<?> ep : pools) {
            EndpointAddresses.Resolved r = addressesOf.get(ep);
            if (r != null) {
                servers.add(r.addresses());
                settled.add(ep);
            } else if (!tracked.isTracked(ep) || ep.ports.addresses.unresolvable()) {
                settled.add(ep);
            }
        }
        if (servers.isEmpty()) {
            return settled;
        }
        Map<EndpointPool<?>, Long> marks = new LinkedHashMap<>();
        try {
            for (Map.Entry<EndpointPool<?>, Integer> t : all) {
                EndpointPool<?> ep = t.getKey();
                EndpointAddresses.Resolved r = addressesOf.get(ep);
                if (r != null && servers.contains(r.addresses())) {
                    ep.ports.readLock.lock();
                    marks.put(ep, ep.ports.markBeforeRefresh());
                }
            }
            SocketTable table = probe.snapshot();
            tableReads++;
            for (Map.Entry<EndpointPool<?>, Long> m : marks.entrySet()) {
                EndpointAddresses.Resolved r = addressesOf.get(m.getKey());
                m.getKey().ports.refreshed(total(table, r.addresses()), m.getValue());
                remember(m.getKey(), r);
            }
            lastTable = table;
            lastTableAt = System.nanoTime();
        } finally {
            for (EndpointPool<?> ep : marks.keySet()) {
                ep.ports.readLock.unlock();
            }
        }
        return settled;
    }

    private void remember(EndpointPool<?> ep, EndpointAddresses.Resolved resolved) {
        synchronized (countedInLastTable) {
            countedInLastTable.computeIfAbsent(ep.engine, k -> new LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<Endpoint, EndpointAddresses.Resolved> eldest) {
                    return size() > 1024;
                }
            }).put(ep.endpoint, resolved);
        }
    }

    /** The sockets of {@code table} toward any of {@code addresses}, in every state but LISTEN. */
    static int total(SocketTable table, List<InetSocketAddress> addresses) {
        int total = 0;
        for (TcpState state : TcpState.values()) {
            if (state != TcpState.LISTEN) {
                total += table.countToRemotes(state, addresses);
            }
        }
        return total;
    }
}
