package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.SocketTable;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
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
 *
 * <p>This class is the entry points and the handshake between the leases that want a count and
 * the reader's thread; which pools are tracked ({@link KernelCountedPools}), when periodic reads
 * are due ({@link KernelReadSchedule}) and the counting itself ({@link KernelTableCount}) are
 * their own classes.
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
    private final KernelCountedPools tracked = new KernelCountedPools();
    /** Endpoints that asked for a count (first connection, growth). */
    private final Set<EndpointPool<?>> wanted = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));
    private final AtomicBoolean readQueued = new AtomicBoolean();
    private final ReentrantLock doneLock = new ReentrantLock();
    private final Condition done = doneLock.newCondition();
    private volatile long reads;
    private final KernelReadSchedule schedule = new KernelReadSchedule(tracked);
    private final KernelTableCount counting;
    /** Whether the probe's tables exist, asked once: a connect must not touch the file system. */
    private volatile int available = -1;

    KernelPortCounter(KernelProbe probe) {
        this.probe = probe;
        this.counting = new KernelTableCount(probe, tracked);
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
        return counting.tableReads();
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
        SocketTable table = counting.lastTable();
        if (table == null || System.nanoTime() - counting.lastTableAt() >= PERIOD_NANOS) {
            return false;
        }
        EndpointAddresses.Resolved resolved = counting.countedInLastTable(ep);
        if (resolved == null) {
            return false;
        }
        PortUsage ports = ep.ports;
        ports.readLock.lock();
        try {
            if (!ports.kernelKnown()) {
                ports.addresses.seed(resolved);
                ports.refreshed(KernelTableCount.total(table, resolved.addresses()), 0L);
            }
        } finally {
            ports.readLock.unlock();
        }
        tracked.track(ep, budget);
        // Whether the JVM's use toward this server now calls for periodic reads is looked at
        // when that table is a period old (one wakeup, and a read only if it does).
        watcher.schedule(this, counting.lastTableAt() + PERIOD_NANOS);
        return true;
    }

    private void want(EndpointPool<?> ep, int budget) {
        tracked.track(ep, budget);
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
     * One read for every endpoint that wants or needs a count; on the reader's thread. An
     * endpoint whose name is still being looked up stays wanted: its lookup's end asks for the
     * read that counts it.
     */
    private void readNow() {
        readQueued.set(false);
        Set<EndpointPool<?>> pools = new LinkedHashSet<>();
        synchronized (wanted) {
            pools.addAll(wanted);
        }
        pools.addAll(schedule.due());
        Set<EndpointPool<?>> settled = pools;
        try {
            if (!pools.isEmpty()) {
                settled = counting.count(pools, this::lookedUp);
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
            List<EndpointPool<?>> due = schedule.due();
            if (!due.isEmpty()) {
                watcher.schedule(this, System.nanoTime() + schedule.nextPeriod(due));
            }
        }
    }

    /**
     * A lookup of {@code ep}'s name found new addresses, or found none where none were known: a
     * read counts it now (or lets a lease waiting for its first count go on).
     */
    private void lookedUp(EndpointPool<?> ep) {
        if (tracked.isTracked(ep)) {
            wanted.add(ep);
            queueRead();
        }
    }
}
