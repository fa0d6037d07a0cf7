package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.PoolStats;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The connections and waiters of one endpoint. Claiming and releasing are lock-free (a CAS on the
 * entry's state); the lock guards only the copy-on-write entry array, which changes when a
 * connection is opened or closed, never on the lease path.
 */
final class EndpointPool<C> {

    private static final PooledEntry<?>[] NONE = new PooledEntry<?>[0];

    final PoolEngine<C> engine;
    final Endpoint endpoint;

    /**
     * Open connections of this endpoint that count against the limits, plus reservations for
     * connects in progress; {@link #REMOVED} once the pool has forgotten the endpoint.
     */
    final AtomicInteger allocated = new AtomicInteger();
    /** The value of {@link #allocated} of an endpoint pool that was removed: no reservation can succeed. */
    static final int REMOVED = Integer.MIN_VALUE / 2;
    /** When something last left this endpoint pool (ticker time), for forgetting it once it has stayed empty. */
    volatile long lastEmptied;
    /** This endpoint's own limit, set at run time; 0 = the pool's maxPerEndpoint. */
    volatile int maxOverride;
    /** Waiters still in WAITING state. */
    final AtomicInteger waiting = new AtomicInteger();
    final ConcurrentLinkedQueue<Waiter<C>> waiters = new ConcurrentLinkedQueue<>();
    /** Ports this endpoint's connections tie up, for the port budget. */
    final PortUsage ports = new PortUsage();

    private final ReentrantLock structure = new ReentrantLock();
    private volatile PooledEntry<C>[] entries = newEntries(0);
    /**
     * The most recently released entry: the first candidate for LIFO reuse. Only a candidate
     * (the claim is the entry's CAS), so it is published with a release store, not a volatile
     * write's full fence.
     */
    private volatile PooledEntry<C> hint;
    private static final VarHandle HINT;

    static {
        try {
            HINT = MethodHandles.lookup().findVarHandle(EndpointPool.class, "hint", PooledEntry.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    /**
     * Per-thread hints, once threads were seen contending for {@link #hint} (null until then, so
     * an endpoint used by one thread at a time costs no memory for them): each thread's last
     * released entry, in a slot of its own cache line, so threads sharing an endpoint reuse
     * "their" connection without writing to a line the others read (HikariCP's ConcurrentBag
     * and Stormpot keep the same thread affinity). A slot is only a candidate: the claim is
     * still the entry's CAS, so a stale or shared slot costs a failed CAS, never a second holder.
     */
    private volatile PooledEntry<C>[] lanes;
    /**
     * Lanes (threads are spread over them by id) and the slots between two lanes (64 bytes of
     * references). The first lane starts one spacing in, and one spacing is left after the last,
     * so no lane shares a cache line with the array's header (its length is read by every
     * access) or with the next object in the heap.
     */
    private static final int LANES = 8;
    private static final int SPACING = 16;

    /** Idle ages at which the server was seen to close, and the timeout learned from them. */
    final IdleCloseObservations idleCloses = new IdleCloseObservations();
    /** The server's idle timeout as announced (for example {@code Keep-Alive: timeout=N}), or Long.MAX_VALUE. */
    volatile long hintedIdleTimeoutNanos = Long.MAX_VALUE;

    EndpointPool(PoolEngine<C> engine, Endpoint endpoint) {
        this.engine = engine;
        this.endpoint = endpoint;
    }

    /**
     * An array for this pool's entries; the empty one is shared. A generic array cannot be
     * created, so it is a {@code PooledEntry<?>[]} seen as {@code PooledEntry<C>[]}: sound, as
     * only this pool's entries are ever stored in it and it never leaves the engine.
     */
    @SuppressWarnings("unchecked")
    private static <C> PooledEntry<C>[] newEntries(int length) {
        return (PooledEntry<C>[]) (length == 0 ? NONE : new PooledEntry<?>[length]);
    }

    PooledEntry<C>[] entries() {
        return entries;
    }

    /** Whether the pool removed this endpoint pool; a lease that meets it looks the endpoint up again. */
    boolean isRemoved() {
        return allocated.get() < 0;
    }

    /** Whether nothing is left in it: no connection (not even draining), no waiter and no limit of its own. */
    boolean isEmpty() {
        return entries.length == 0 && waiting.get() == 0 && allocated.get() == 0 && maxOverride == 0;
    }

    void add(PooledEntry<C> e) {
        structure.lock();
        try {
            PooledEntry<C>[] old = entries;
            PooledEntry<C>[] grown = Arrays.copyOf(old, old.length + 1);
            grown[old.length] = e;
            entries = grown;
        } finally {
            structure.unlock();
        }
    }

    void remove(PooledEntry<C> e) {
        structure.lock();
        try {
            PooledEntry<C>[] old = entries;
            for (int i = 0; i < old.length; i++) {
                if (old[i] == e) {
                    PooledEntry<C>[] shrunk = newEntries(old.length - 1);
                    System.arraycopy(old, 0, shrunk, 0, i);
                    System.arraycopy(old, i + 1, shrunk, i, old.length - i - 1);
                    entries = shrunk;
                    break;
                }
            }
        } finally {
            structure.unlock();
        }
        if (hint == e) {
            hint = null;
        }
        PooledEntry<C>[] l = lanes;
        if (l != null) {
            for (int i = 0; i < l.length; i += SPACING) {
                if (l[i] == e) {
                    l[i] = null; // a closed entry is not kept reachable by a thread's slot
                }
            }
        }
    }

    /** This thread's slot in {@link #lanes}. */
    private static int lane() {
        return (((int) Thread.currentThread().getId() & (LANES - 1)) + 1) * SPACING;
    }

    /** Publishes {@code e} (owned by the caller) as idle, the first candidate for the next lease; see {@link PoolEngine#publishIdle}. */
    void makeIdle(PooledEntry<C> e) {
        e.claim2idle();
        PooledEntry<C>[] l = lanes;
        if (l == null) {
            HINT.setRelease(this, e);
        } else {
            l[lane()] = e;
        }
        engine.housekeeper.becameIdle();
    }

    /**
     * Claims an idle connection, most recently released first (LIFO), moving it IDLE → LEASED.
     * Returns {@code null} if none is idle. The caller must still admit it (expiry, validation).
     */
    PooledEntry<C> claimIdle() {
        PooledEntry<C>[] l = lanes;
        if (l == null) {
            PooledEntry<C> h = hint;
            if (h != null) {
                if (h.idle2claim()) {
                    return h;
                }
                if (h.state() == PooledEntry.LEASED) {
                    startLanes(); // another thread took the hint first: threads share this endpoint
                }
            }
        } else {
            PooledEntry<C> mine = l[lane()];
            if (mine != null && mine.idle2claim()) {
                return mine;
            }
        }
        for (;;) {
            PooledEntry<C> best = null;
            PooledEntry<C>[] all = entries;
            for (int i = all.length - 1; i >= 0; i--) {
                PooledEntry<C> e = all[i];
                int s = e.state();
                if ((s == PooledEntry.IDLE || s == PooledEntry.WATCHED)
                        && (best == null || e.idleSince - best.idleSince > 0)) {
                    best = e;
                }
            }
            if (best == null) {
                return null;
            }
            if (best.idle2claim()) {
                return best;
            }
            if (best.state() == PooledEntry.WATCHED && engine.reclaimWatched(best)) {
                return best;
            }
            // Lost a race for it; look again.
        }
    }

    private void startLanes() {
        structure.lock();
        try {
            if (lanes == null) {
                lanes = newEntries((LANES + 2) * SPACING);
                hint = null;
            }
        } finally {
            structure.unlock();
        }
    }

    /** The idle connection that has been idle longest, or null; used to make room for another endpoint. */
    PooledEntry<C> longestIdle() {
        PooledEntry<C> oldest = null;
        for (PooledEntry<C> e : entries) {
            int s = e.state();
            if ((s == PooledEntry.IDLE || s == PooledEntry.WATCHED)
                    && (oldest == null || e.idleSince - oldest.idleSince < 0)) {
                oldest = e;
            }
        }
        return oldest;
    }

    /**
     * Takes this endpoint's longest-idle connection (IDLE, or WATCHED and taken back from the
     * watcher) for a pool thread that evicts it, or returns null if none is idle. The caller owns
     * it, HELD, not LEASED: no lease holds it, so the stats go on counting it idle until it is
     * retired. The longest idle, as the evictor for another endpoint takes: the most recently
     * used stay for the leases to come.
     */
    PooledEntry<C> claimToEvict() {
        for (;;) {
            PooledEntry<C> e = longestIdle();
            if (e == null) {
                return null;
            }
            if (engine.claim(e)) {
                return e;
            }
            // Lost a race for it (a leaser, housekeeping, the watcher): it is no longer idle; look again.
        }
    }

    /**
     * Records that the server closed a connection that had been idle {@code idleNanos}, seen at
     * ticker time {@code now}. Any thread.
     */
    void observeIdleClose(long idleNanos, long now) {
        idleCloses.observe(idleNanos, now);
    }

    /**
     * The server's idle timeout as best known at ticker time {@code now}: the shorter of the
     * announced and the learned one (a proxy in between may close sooner than the server
     * announces), or Long.MAX_VALUE if neither is known.
     */
    long serverIdleTimeoutNanos(long now) {
        return Math.min(hintedIdleTimeoutNanos, idleCloses.nanos(now));
    }

    /**
     * The figures of this endpoint: one read of each connection's state. {@code active} is
     * LEASED: leased, or being taken or given back by a lease call. A connection a pool thread
     * holds (HELD) to look at, retire or close it is still idle; it counts as draining or goes
     * once it is. One retiring by a policy that awaits the peer counts as draining from the
     * moment it is retired (RETIRING, its goodbye running), whoever retires it.
     */
    PoolStats.EndpointStats stats() {
        int active = 0;
        int idle = 0;
        int draining = 0;
        for (PooledEntry<C> e : entries) {
            switch (e.state()) {
                case PooledEntry.LEASED: active++; break;
                case PooledEntry.IDLE:
                case PooledEntry.WATCHED:
                case PooledEntry.HELD: idle++; break;
                case PooledEntry.RETIRING:
                case PooledEntry.DRAINING: draining++; break;
                default: break;
            }
        }
        return new PoolStats.EndpointStats(active, idle, draining, waiting.get());
    }
}
