package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.PortBudgetSnapshot;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The JVM's one reader of the kernel's socket table for the port budget: it counts every socket
 * on this host toward an endpoint (other pools' and processes' included). Leases never read the
 * table: they ask this reader, which reads on a thread of its own that exists only while
 * there is reading to do (so a long read never delays listener events); requests that
 * arrive while a read is queued share it, and every endpoint toward the same server is counted
 * from the same read.
 *
 * <p>When it reads:
 * <ul>
 *   <li>for an endpoint's first connection: the lease waits for that count (at most
 *       {@link #COUNT_WAIT_NANOS}), so a cold pool never takes ports others hold;</li>
 *   <li>when the pool's own use of ports toward an endpoint (open sockets plus TIME_WAITs it
 *       left) has grown by a twentieth of the budget since the last count: the lease goes on,
 *       and waits for the count only once the growth reaches a tenth. A pool whose server closes
 *       first does not grow however fast it churns, so churn alone causes no reads;</li>
 *   <li>periodically while the JVM's pools use a tenth of an endpoint's budget, or sockets
 *       outside this JVM were seen toward it (other pools of this JVM toward the same server
 *       are not "outside"), or TIME_WAIT the pool caused is still counted (the kernel keeps
 *       each a moment past the pool's 60 s, and a read after that frees it), and never otherwise: every {@link #PERIOD_NANOS} while the counts
 *       move or some endpoint has used half its budget; while a read finds what the last one
 *       found, the period doubles, up to {@link #MAX_PERIOD_NANOS}. Parsing the table costs
 *       in proportion to the host's sockets, so a large, still pool is read seldom.</li>
 * </ul>
 *
 * <p>An endpoint is counted toward the addresses its host name resolves to. Names are looked up
 * off the reader's thread ({@link EndpointAddresses}): a read counts the endpoints whose
 * addresses are known and leaves a name still being looked up for a read once its answer is
 * in, so one slow name delays no other endpoint's count. Addresses older than the JVM's DNS
 * cache's time to live are looked up again (a connector's next connect may reach new ones),
 * and a change is counted at once.
 */
final class KernelPortCounter extends IdleWatcher.Task {

    static final long PERIOD_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final long COUNT_WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final long MAX_PERIOD_NANOS = TimeUnit.SECONDS.toNanos(8);

    private static final KernelPortCounter SHARED = new KernelPortCounter(KernelProbe.linux());

    static KernelPortCounter shared() {
        return SHARED;
    }

    private final KernelProbe probe;
    private final IdleWatcher watcher = IdleWatcher.shared();
    /** Every endpoint pool with a kernel-counted budget, with its budget; weak, so forgotten pools go. */
    private final Map<EndpointPool<?>, Integer> tracked = Collections.synchronizedMap(new WeakHashMap<>());
    /** Endpoints that asked for a count (first connection, growth). */
    private final Set<EndpointPool<?>> wanted = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));
    private final AtomicBoolean readQueued = new AtomicBoolean();
    private final ReentrantLock doneLock = new ReentrantLock();
    private final Condition done = doneLock.newCondition();
    private volatile long reads;
    private volatile long tableReads;
    /** The last table read, for endpoint pools that come back (see {@link #seedFromRecentRead}). */
    private volatile SocketTable lastTable;
    private volatile long lastTableAt = Long.MIN_VALUE / 2;
    /** The periodic reads' current period and what the last periodic read found; the reader's thread only. */
    private long periodNanos = PERIOD_NANOS;
    private long lastFound;
    /** Whether the probe's tables exist, asked once: a connect must not touch the file system. */
    private volatile int available = -1;
    /**
     * Per pool engine (weakly), the endpoints counted from {@link #lastTable} with their resolved
     * addresses: only an endpoint pool of the same pool that comes back may be seeded from it.
     */
    private final Map<PoolEngine<?>, Map<io.github.portkeeper.core.Endpoint, EndpointAddresses.Resolved>> countedInLastTable =
            Collections.synchronizedMap(new WeakHashMap<>());

    KernelPortCounter(KernelProbe probe) {
        this.probe = probe;
    }

    boolean isAvailable() {
        int a = available;
        if (a < 0) {
            a = probe.isAvailable() ? 1 : 0;
            available = a;
        }
        return a == 1;
    }

    /** Reads of the kernel's socket table so far in this JVM (for tests and benchmarks). */
    long tableReads() {
        return tableReads;
    }

    /**
     * Before a new connection toward {@code ep}: makes sure the budget's count of others is recent
     * enough, by the rules above. Never reads the table itself.
     */
    void beforeConnect(EndpointPool<?> ep, int budget) {
        PortUsage ports = ep.ports;
        if (ports.kernelKnown()) {
            int grown = ports.grownSinceRead();
            if (grown * 20 < budget) {
                return;
            }
            long seen = reads;
            want(ep, budget);
            if (grown * 10 >= budget) {
                awaitReadAfter(seen, ep); // a tenth more without a count: do not run ahead of the kernel
            }
            return;
        }
        if (seedFromRecentRead(ep, budget)) {
            return;
        }
        long seen = reads;
        want(ep, budget);
        awaitReadAfter(seen, ep);
        ports.countOursOnlyIfUnread(); // unresolvable or unreadable (or the read is late)
    }

    /**
     * An endpoint pool the engine forgot while it was empty and now creates again: if the same
     * pool's endpoint was counted in a table read less than {@link #PERIOD_NANOS} ago, it is counted
     * from that table (mark 0: an overcount at worst, until the next read) instead of waiting
     * for a new read. A churn of one connection at a time thus costs at most a read a second.
     * An endpoint this pool never counted before always waits for a fresh read.
     */
    private boolean seedFromRecentRead(EndpointPool<?> ep, int budget) {
        SocketTable table = lastTable;
        if (table == null || System.nanoTime() - lastTableAt >= PERIOD_NANOS) {
            return false;
        }
        EndpointAddresses.Resolved resolved;
        synchronized (countedInLastTable) {
            Map<io.github.portkeeper.core.Endpoint, EndpointAddresses.Resolved> ofPool = countedInLastTable.get(ep.engine);
            resolved = ofPool == null ? null : ofPool.get(ep.endpoint);
        }
        if (resolved == null) {
            return false;
        }
        PortUsage ports = ep.ports;
        ports.readLock.lock();
        try {
            if (!ports.kernelKnown()) {
                ports.addresses.seed(resolved);
                ports.refreshed(total(table, resolved.addresses()), 0L);
            }
        } finally {
            ports.readLock.unlock();
        }
        tracked.putIfAbsent(ep, budget);
        // Whether the JVM's use toward this server now calls for periodic reads is looked at
        // when that table is a period old (one wakeup, and a read only if it does).
        watcher.schedule(this, lastTableAt + PERIOD_NANOS);
        return true;
    }

    private void want(EndpointPool<?> ep, int budget) {
        tracked.putIfAbsent(ep, budget);
        wanted.add(ep);
        queueRead();
    }

    private void queueRead() {
        if (readQueued.compareAndSet(false, true)) {
            try {
                watcher.runKernelRead(this::readNow);
            } catch (RuntimeException | Error e) {
                readQueued.set(false); // not queued after all: the next want or period queues it
                throw e;
            }
        }
    }

    private void awaitReadAfter(long seen, EndpointPool<?> ep) {
        long deadline = System.nanoTime() + COUNT_WAIT_NANOS;
        doneLock.lock();
        try {
            while (reads == seen || wanted.contains(ep)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                done.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            doneLock.unlock();
        }
    }

    /** The watcher's timer: the periodic read, on the reader's thread. */
    @Override
    protected long run(long now) {
        queueRead();
        return IdleWatcher.NEVER;
    }

    /**
     * Endpoints worth a periodic read: the JVM's pools use a tenth of the budget, others outside
     * the JVM hold ports, or TIME_WAIT of ours is still counted.
     */
    private List<EndpointPool<?>> periodicDue() {
        List<EndpointPool<?>> due = new ArrayList<>();
        Map<List<InetSocketAddress>, Integer> jvmUse = new HashMap<>();
        List<Map.Entry<EndpointPool<?>, Integer>> all = trackedNow();
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
     * The wait before the next periodic read: {@link #PERIOD_NANOS} if the counts moved since the
     * last read or an endpoint has used half its budget, else twice the last wait, up to
     * {@link #MAX_PERIOD_NANOS}. Growth of the pools' own use still asks for a read at once
     * ({@link #beforeConnect}), whatever the period.
     */
    private long nextPeriod(List<EndpointPool<?>> due) {
        long found = 1;
        boolean nearEnd = false;
        for (EndpointPool<?> ep : due) {
            Integer budget = tracked.get(ep);
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

    /**
     * The tracked endpoint pools, less those of closed pools and those their pool forgot, which
     * are dropped: neither needs counts, and one still reachable (a closed pool its user holds,
     * an endpoint pool the garbage collector has not taken yet) would otherwise keep asking for
     * periodic reads, for as long as its last count saw others' sockets or the TIME_WAITs it
     * counted are in their window.
     */
    private List<Map.Entry<EndpointPool<?>, Integer>> trackedNow() {
        synchronized (tracked) {
            tracked.keySet().removeIf(ep -> ep.engine.isClosed() || forgotten(ep));
            return new ArrayList<>(tracked.entrySet());
        }
    }

    /**
     * Whether the pool has forgotten {@code ep} for good. Removal marks it removed before it
     * leaves the pool's map, and takes the mark back only while it is still there (a lease came
     * by meanwhile): marked and no longer in the map is for good. While the pool has a newer
     * endpoint pool for the same endpoint the old one stays (counted along with the new one,
     * toward the same addresses, at no extra read) until that one goes too, or the collector
     * takes it.
     */
    private static boolean forgotten(EndpointPool<?> ep) {
        return ep.isRemoved() && !ep.engine.endpoints().contains(ep.endpoint);
    }

    /**
     * One read for every endpoint that wants or needs a count; on the reader's thread. An
     * endpoint whose name is still being looked up stays wanted: its lookup's end asks for the
     * read that counts it.
     */
    private void readNow() {
        readQueued.set(false);
        Set<EndpointPool<?>> pools = new java.util.LinkedHashSet<>();
        synchronized (wanted) {
            pools.addAll(wanted);
        }
        pools.addAll(periodicDue());
        Set<EndpointPool<?>> settled = pools;
        try {
            if (!pools.isEmpty()) {
                settled = count(pools);
            }
        } catch (RuntimeException e) {
            // The probe failing must never stop the pools; the budget keeps its own counts.
        } finally {
            for (EndpointPool<?> ep : settled) {
                wanted.remove(ep);
            }
            doneLock.lock();
            try {
                reads++;
                done.signalAll();
            } finally {
                doneLock.unlock();
            }
            List<EndpointPool<?>> due = periodicDue();
            if (!due.isEmpty()) {
                watcher.schedule(this, System.nanoTime() + nextPeriod(due));
            }
        }
    }

    /**
     * Counts the given endpoints from one table, and with them every tracked endpoint that
     * reaches the same server (the same table serves them at no cost). Each endpoint's read
     * lock is held from its mark to its refresh. Every tracked endpoint's addresses are looked
     * at (and looked up again, off this thread, once their time is up); an endpoint whose name
     * is being looked up for the first time is left for a later read.
     *
     * @return the given endpoints that need nothing more: counted, or their names do not
     *         resolve, or no longer tracked
     */
    private Set<EndpointPool<?>> count(Set<EndpointPool<?>> pools) {
        Map<EndpointPool<?>, EndpointAddresses.Resolved> addressesOf = new HashMap<>();
        List<Map.Entry<EndpointPool<?>, Integer>> all = trackedNow();
        for (Map.Entry<EndpointPool<?>, Integer> t : all) {
            EndpointPool<?> ep = t.getKey();
            EndpointAddresses.Resolved r = ep.ports.addresses.currentResolved(ep.endpoint, ep.engine.now(), () -> lookedUp(ep));
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
            } else if (!tracked.containsKey(ep) || ep.ports.addresses.unresolvable()) {
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

    /**
     * A lookup of {@code ep}'s name found new addresses, or found none where none were known: a
     * read counts it now (or lets a lease waiting for its first count go on).
     */
    private void lookedUp(EndpointPool<?> ep) {
        if (tracked.containsKey(ep)) {
            wanted.add(ep);
            queueRead();
        }
    }

    /** The addresses {@code ep} was last counted toward (or is about to be); null if its name never resolved. */
    private static List<InetSocketAddress> lastAddresses(EndpointPool<?> ep) {
        EndpointAddresses.Resolved r = ep.ports.addresses.last();
        return r == null ? null : r.addresses();
    }

    private void remember(EndpointPool<?> ep, EndpointAddresses.Resolved resolved) {
        synchronized (countedInLastTable) {
            countedInLastTable.computeIfAbsent(ep.engine, k -> new LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<io.github.portkeeper.core.Endpoint, EndpointAddresses.Resolved> eldest) {
                    return size() > 1024;
                }
            }).put(ep.endpoint, resolved);
        }
    }

    private static int total(SocketTable table, List<InetSocketAddress> addresses) {
        int total = 0;
        for (TcpState state : TcpState.values()) {
            if (state != TcpState.LISTEN) {
                total += table.countToRemotes(state, addresses);
            }
        }
        return total;
    }
}
