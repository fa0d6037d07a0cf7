package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolClosedException;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PoolException;
import io.github.portkeeper.core.PoolListener;
import io.github.portkeeper.core.PoolStats;
import io.github.portkeeper.core.PortBudgetSnapshot;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.Ticker;

import java.io.IOException;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.StampedLock;

/**
 * The pool engine behind {@link io.github.portkeeper.core.Pool}: the lease and release flows,
 * the endpoint map and pool close. The work is done by its parts, one concern each:
 * {@link Admission} (may this idle connection be leased?), {@link Dispatcher} (waiting and
 * hand-off), {@link Capacity} (the limits), {@link PortGate} (the port budget),
 * {@link Opener} (connects), {@link Retirer} (retirement and the one close path) and
 * {@link LeakDetector}. The {@link Housekeeper} watches idle connections and runs the timed
 * work. Lease and release are lock-free on the reuse path.
 *
 * <p>Thread-safe.
 */
public final class PoolEngine<C> {

    /** How long an expired connection that can have a last use waits idle for it before retiring anyway. */
    private static final long LAST_USE_GRACE_NANOS = 1_000_000_000L;
    /** At most this many removed endpoints' server idle timeouts are remembered. */
    private static final int REMEMBERED_MAX = 1024;

    private final Connector<C> connector;
    private final PoolConfig config;
    private final Ticker ticker;
    final Listeners listeners;
    /**
     * The endpoint pools. Reads are lock-free; adding and removing take {@link #endpointsLock},
     * so the map can be replaced by a smaller copy after many endpoints went (a hash table never
     * shrinks by itself: 100,000 endpoints gone would keep a 1 MiB table).
     */
    private volatile ConcurrentHashMap<Endpoint, EndpointPool<C>> endpoints = new ConcurrentHashMap<>();
    private final java.util.concurrent.locks.ReentrantLock endpointsLock = new java.util.concurrent.locks.ReentrantLock();
    /** A live view of the current map's keys (the map itself may be replaced). */
    private final Set<Endpoint> endpointsView = new java.util.AbstractSet<>() {
        @Override
        public java.util.Iterator<Endpoint> iterator() {
            return Collections.unmodifiableSet(endpoints.keySet()).iterator();
        }

        @Override
        public int size() {
            return endpoints.size();
        }

        @Override
        public boolean contains(Object o) {
            return endpoints.containsKey(o);
        }
    };
    /** The most endpoint pools the current map has held, guarded by {@link #endpointsLock}. */
    private int endpointsPeak;
    /** Server idle timeouts learned or announced for endpoints whose pools were removed, for when they come back. */
    private final ConcurrentHashMap<Endpoint, KnownIdleTimeout> rememberedIdleTimeouts = new ConcurrentHashMap<>();

    /**
     * What a removed endpoint pool knew of its server's idle timeout: the announced one, and
     * the learned one with when its observation was made, so that it stops counting when that
     * observation would have ({@link IdleCloseObservations#LIFETIME_NANOS}), removed or not.
     */
    private record KnownIdleTimeout(long hintedNanos, long learnedNanos, long learnedAt) {

        long nanos(long now) {
            boolean learnedCounts = learnedNanos != Long.MAX_VALUE
                    && now - learnedAt < IdleCloseObservations.LIFETIME_NANOS;
            return Math.min(hintedNanos, learnedCounts ? learnedNanos : Long.MAX_VALUE);
        }
    }
    final Capacity<C> capacity;
    final Admission<C> admission;
    final Dispatcher<C> waiters;
    final PortGate<C> portGate;
    final Opener<C> opener;
    final Retirer<C> retirer;
    final LeakDetector<C> leaks;
    final Housekeeper<C> housekeeper;
    private volatile boolean closed;
    /** The thread of the first {@link #close()} while it runs, guarded by {@link #closeDone}. */
    private Thread closingThread;
    /** Counted down once the first {@link #close()} is done. */
    private final java.util.concurrent.CountDownLatch closeDone = new java.util.concurrent.CountDownLatch(1);
    /** Written around a connection's move between endpoint pools, so that {@link #stats()} counts it once. */
    private final StampedLock moves = new StampedLock();

    public PoolEngine(Connector<C> connector, PoolConfig config) {
        this.connector = connector;
        this.config = config;
        this.ticker = config.ticker();
        this.listeners = new Listeners(config.listeners());
        Retirement.Policy policy = config.retirement().policy();
        boolean lastUseCapable = connector.supportsLastUse()
                && (policy == Retirement.Policy.AWAIT_PEER || policy == Retirement.Policy.REQUEST_PEER_CLOSE);
        this.capacity = new Capacity<>(this, config.maxPerEndpoint(), config.maxTotal());
        this.admission = new Admission<>(this, connector, config.maxIdleTime().toNanos(),
                config.maxLeasesPerConnection(), lastUseCapable);
        this.waiters = new Dispatcher<>(this);
        this.portGate = new PortGate<>(this, config.portBudget());
        this.opener = new Opener<>(this, connector, config.connectGuard(),
                config.maxLifetime().toNanos(), config.lifetimeJitter().toNanos());
        this.retirer = new Retirer<>(this, connector, config.retirement());
        this.leaks = new LeakDetector<>(this, config);
        this.housekeeper = new Housekeeper<>(this, config);
    }

    /**
     * Takes an announced idle timeout for {@code endpoint} (for example HTTP's
     * {@code Keep-Alive: timeout=N}); connections idle longer than it minus the safety margin are
     * no longer leased.
     */
    public void hintIdleTimeout(Endpoint endpoint, Duration timeout) {
        // A hint past the nanosecond clock's range saturates to "none known": it limits nothing.
        endpointPool(endpoint).hintedIdleTimeoutNanos = Nanos.saturated(timeout);
    }

    /** The server idle timeout learned or announced for {@code endpoint}, if any. */
    public Optional<Duration> serverIdleTimeout(Endpoint endpoint) {
        EndpointPool<C> ep = endpoints.get(endpoint);
        long now = now();
        long nanos;
        if (ep != null) {
            nanos = ep.serverIdleTimeoutNanos(now);
        } else {
            KnownIdleTimeout known = rememberedIdleTimeouts.get(endpoint);
            nanos = known == null ? Long.MAX_VALUE : known.nanos(now);
        }
        return nanos == Long.MAX_VALUE ? Optional.empty() : Optional.of(Duration.ofNanos(nanos));
    }

    public PoolConfig config() {
        return config;
    }

    Connector<C> connector() {
        return connector;
    }

    long now() {
        return ticker.read();
    }

    public boolean isClosed() {
        return closed;
    }

    private EndpointPool<C> endpointPool(Endpoint endpoint) {
        EndpointPool<C> ep = endpoints.get(endpoint);
        if (ep != null) {
            return ep;
        }
        endpointsLock.lock();
        try {
            ConcurrentHashMap<Endpoint, EndpointPool<C>> map = endpoints;
            ep = map.computeIfAbsent(endpoint, this::newEndpointPool);
            endpointsPeak = Math.max(endpointsPeak, map.size());
            return ep;
        } finally {
            endpointsLock.unlock();
        }
    }

    private EndpointPool<C> newEndpointPool(Endpoint endpoint) {
        EndpointPool<C> ep = new EndpointPool<>(this, endpoint);
        KnownIdleTimeout known = rememberedIdleTimeouts.remove(endpoint);
        if (known != null) {
            ep.hintedIdleTimeoutNanos = known.hintedNanos();
            if (known.learnedNanos() != Long.MAX_VALUE) {
                ep.observeIdleClose(known.learnedNanos(), known.learnedAt()); // counts until it would have
            }
        }
        return ep;
    }

    /**
     * Something left {@code ep} (a connection closed, a connect failed, a waiter gave up): if
     * that emptied it, housekeeping forgets it once it has stayed empty for {@code maxIdleTime},
     * so an endpoint used one connection at a time keeps its meters.
     */
    void mayBeEmpty(EndpointPool<C> ep) {
        long now = now();
        ep.lastEmptied = now;
        if (ep.isEmpty()) {
            housekeeper.forgetLater(ep, now); // nothing else may ever come by to forget it
        }
    }

    /**
     * Forgets an endpoint pool with nothing left in it (no connection, waiter, reservation, or
     * TIME_WAIT of ours in the last 60 s) for {@code maxIdleTime}, so memory and meters follow the live endpoints, not
     * every endpoint ever seen. Its allocation count is swapped to {@link EndpointPool#REMOVED}
     * first, so no lease can reserve in it; a leaser that queued meanwhile keeps it alive (it
     * increments {@code waiting} before checking for removal; this checks {@code waiting} after).
     */
    void removeIfEmpty(EndpointPool<C> ep) {
        if (!ep.isEmpty() || !ep.ports.isQuiet(now()) || !ep.allocated.compareAndSet(0, EndpointPool.REMOVED)) {
            return;
        }
        if (ep.waiting.get() != 0 || ep.entries().length != 0) {
            ep.allocated.compareAndSet(EndpointPool.REMOVED, 0);
            return;
        }
        endpointsLock.lock();
        try {
            ConcurrentHashMap<Endpoint, EndpointPool<C>> map = endpoints;
            map.remove(ep.endpoint, ep);
            int size = map.size();
            if (endpointsPeak >= 4096 && size * 8 < endpointsPeak) {
                // Readers of the old map see the same pools; one that meets a removed pool looks again.
                endpoints = new ConcurrentHashMap<>(map);
                endpointsPeak = size;
            }
        } finally {
            endpointsLock.unlock();
        }
        long now = now();
        long learnedAt = ep.idleCloses.learnedAt(now);
        KnownIdleTimeout known = new KnownIdleTimeout(ep.hintedIdleTimeoutNanos,
                learnedAt == Long.MIN_VALUE ? Long.MAX_VALUE : ep.idleCloses.nanos(now), learnedAt);
        if (known.nanos(now) != Long.MAX_VALUE) {
            if (rememberedIdleTimeouts.size() >= REMEMBERED_MAX) {
                // Make room: what no longer counts would restore nothing.
                rememberedIdleTimeouts.values().removeIf(k -> k.nanos(now) == Long.MAX_VALUE);
            }
            if (rememberedIdleTimeouts.size() < REMEMBERED_MAX) {
                rememberedIdleTimeouts.put(ep.endpoint, known);
            }
        }
        listeners.endpointRemoved(ep.endpoint);
    }

    // ---------------------------------------------------------------- lease

    /** Leases a connection to {@code endpoint}: an idle one if fit, else a new one, waiting at most {@code timeout}. */
    public LeaseHandle<C> lease(Endpoint endpoint, Duration timeout) throws IOException {
        // The reuse path, kept small so the JIT inlines it into the caller: a known endpoint
        // nobody waits for, and an idle connection fit to lease. Anything else takes the full path.
        EndpointPool<C> ep = endpoints.get(endpoint);
        if (ep != null && !closed && ep.waiting.get() == 0) {
            PooledEntry<C> e = admission.claimForLease(ep);
            if (e != null) {
                return onLeased(e, true, 0L);
            }
        }
        return lease(endpoint, timeout, false);
    }

    /**
     * Leases a new connection to {@code endpoint}, never an idle one, under the same limits and
     * waits; at the endpoint's limit an idle connection of it is retired to make room.
     */
    public LeaseHandle<C> leaseNew(Endpoint endpoint, Duration timeout) throws IOException {
        return lease(endpoint, timeout, true);
    }

    private LeaseHandle<C> lease(Endpoint endpoint, Duration timeout, boolean fresh) throws IOException {
        long timeoutNanos = Nanos.saturated(timeout); // a wait past the clock's range: practically forever
        for (;;) {
            EndpointPool<C> ep = endpointPool(endpoint);
            if (closed) {
                throw rejected(endpoint, closedException(endpoint));
            }
            LeaseHandle<C> h = null;
            if (ep.waiting.get() == 0) {
                if (!fresh) {
                    PooledEntry<C> e = admission.claimForLease(ep);
                    if (e != null) {
                        return onLeased(e, true, 0L);
                    }
                }
                if (capacity.reserve(ep) || (fresh && waiters.makeRoomIn(ep) && capacity.reserve(ep))) {
                    h = opener.connectNew(ep, 0L, timeoutNanos, fresh);
                    if (h != null) {
                        return h;
                    }
                }
            }
            if (!ep.isRemoved()) {
                h = waiters.awaitLease(ep, timeoutNanos, fresh);
            }
            if (h != null) {
                return h;
            }
            // Null: the endpoint pool was removed as we arrived; look the endpoint up again.
        }
    }

    /** The owner of {@code e} hands it to a new holder: a fresh handle for this lease. */
    LeaseHandle<C> onLeased(PooledEntry<C> e, boolean reused, long waitedNanos) {
        e.prepareLease();
        if (leaks.enabled()) {
            leaks.leased(e);
        }
        listeners.leased(e.pool.endpoint, reused, waitedNanos);
        return new LeaseHandle<>(e, reused);
    }

    PoolException rejected(Endpoint endpoint, IOException reason) {
        listeners.leaseRejected(endpoint, reason);
        return reason instanceof PoolException ? (PoolException) reason : new PoolException(endpoint, reason.getMessage(), reason);
    }

    PoolClosedException closedException(Endpoint endpoint) {
        return new PoolClosedException(endpoint, "Pool '" + config.name() + "' is closed; cannot lease a connection to " + endpoint);
    }

    /**
     * Takes an idle or watched connection for the caller, a pool thread that retires or closes it
     * (housekeeping, retireIdle, the evictor, pool close), or returns false. The caller owns it,
     * HELD, not LEASED: no lease holds it, so the stats go on counting it idle.
     */
    boolean claim(PooledEntry<C> e) {
        return e.idle2held() || (e.state() == PooledEntry.WATCHED && housekeeper.reclaim(e, false));
    }

    /** Takes a watched connection back for a leaser (LEASED), or returns false. */
    boolean reclaimWatched(PooledEntry<C> e) {
        return housekeeper.reclaim(e, true);
    }

    // ---------------------------------------------------------------- release

    /**
     * A lease's first close gives {@code e} back: reuse it (hand-off or idle), or retire or
     * discard it. {@code broken}, {@code retire}, {@code peerClosed} (the holder read the peer's
     * end of stream after its answer) and {@code moveTo} (null: its own endpoint) are what the
     * holder asked for or saw. The common case (nothing asked, nobody waiting, still fit) is
     * this method alone, small enough to be inlined into the lease's close; the rest is
     * {@link #releaseSlow}.
     */
    void release(PooledEntry<C> e, boolean broken, boolean retire, boolean peerClosed, Endpoint moveTo) {
        if (broken || retire || peerClosed || moveTo != null || e.aborted || e.lastUse || e.leasedFrom != null
                || admission.lastUseCapable) {
            releaseSlow(e, broken, retire, peerClosed, moveTo);
            return;
        }
        EndpointPool<C> ep = e.pool;
        long now = now();
        if (closed || admission.unfitOnRelease(e, now) != null || ep.waiting.get() > 0) {
            releaseSlow(e, false, false, false, null);
            return;
        }
        e.idleSince = now;
        listeners.released(ep.endpoint, true);
        publishIdle(e);
        if (ep.waiting.get() > 0) {
            waiters.dispatch(ep);
        }
        waiters.serveOthersBlockedByTotal(ep);
    }

    /** {@link #release} for everything but the common case. */
    private void releaseSlow(PooledEntry<C> e, boolean broken, boolean retire, boolean peerClosed, Endpoint moveTo) {
        if (e.leasedFrom != null) {
            e.leasedFrom = null;
        }
        if (moveTo != null && !broken && !e.aborted && !retire && !peerClosed && !closed) {
            PooledEntry<C> moved = rehome(e, moveTo);
            if (moved == null) {
                retire = true;
            } else {
                e = moved;
            }
        }
        EndpointPool<C> ep = e.pool;
        if (broken || e.aborted) {
            listeners.released(ep.endpoint, false);
            retirer.discardBroken(e);
            return;
        }
        if (peerClosed) {
            // The server closed after its answer: its FIN is here, so the close is passive (PEER),
            // at once; no goodbye, no drain. A served request, unlike a broken connection.
            listeners.released(ep.endpoint, false);
            retirer.discard(e, CloseReason.PEER_CLOSED);
            return;
        }
        long now = now();
        boolean lastUseCapable = admission.lastUseCapable;
        CloseReason reason = closed ? CloseReason.POOL_CLOSED
                : e.lastUse ? (e.isExpired(now) ? CloseReason.LIFETIME : CloseReason.LEASE_BUDGET)
                : retire ? CloseReason.RETIRED
                : lastUseCapable ? null // an expired one gets its last use on the next lease
                : admission.unfitOnRelease(e, now);
        // A last-use-capable connection past its lifetime or budget stays, for one last lease.
        boolean dueForLastUse = reason == null && lastUseCapable && !e.lastUse && admission.unfitOnRelease(e, now) != null;
        e.lastUse = false;
        if (reason != null) {
            listeners.released(ep.endpoint, false);
            retirer.retire(e, reason);
            return;
        }
        e.idleSince = now;
        if (ep.waiting.get() > 0) {
            // Handed over directly, so the claim-time checks run here: the peer may have closed
            // (or written) while it was leased, and a waiter must not get a dead connection.
            if (!admission.quietSinceIdle(e)) {
                listeners.released(ep.endpoint, false);
                return;
            }
            listeners.released(ep.endpoint, true);
            e.lastUse = dueForLastUse;
            if (waiters.handOff(ep, e)) {
                return;
            }
            e.lastUse = false;
        } else {
            listeners.released(ep.endpoint, true);
        }
        publishIdle(e);
        if (ep.waiting.get() > 0) {
            waiters.dispatch(ep);
        }
        waiters.serveOthersBlockedByTotal(ep);
    }

    /**
     * Publishes a connection the caller owns as idle. A pool close that ran meanwhile may have
     * swept the idle set before this one joined it: if the pool is closed now, take it back and
     * close it (a volatile write of the state, then a volatile read of {@code closed}, against
     * the close's write of {@code closed}, then its read of the state: one of the two sees it).
     */
    void publishIdle(PooledEntry<C> e) {
        e.pool.makeIdle(e);
        if (closed && e.idle2held()) {
            retirer.closeEntry(e, config.retirement().fallback() == Ending.RESET, CloseReason.POOL_CLOSED);
        }
    }

    /**
     * Moves a released connection to another endpoint of the same host and port (Lease#moveTo):
     * a new entry there takes the connection; the old one is forgotten without closing anything
     * and without events (no connection opened or closed). Null if the target is at its limit.
     * The swap of entries is one write section of {@link #moves}, so {@link #stats()} counts the
     * connection once: never in both endpoints, never in neither.
     */
    private PooledEntry<C> rehome(PooledEntry<C> e, Endpoint target) {
        EndpointPool<C> to = endpointPool(target);
        if (!capacity.reserveMove(to)) {
            return null;
        }
        EndpointPool<C> from = e.pool;
        PooledEntry<C> moved = new PooledEntry<>(to, e.connection, e.createdAt, e.lifetimeNanos);
        moved.leaseCount = e.leaseCount;
        moved.idleSince = e.idleSince;
        to.ports.movedIn();
        long stamp = moves.writeLock();
        try {
            to.add(moved);
            e.uncounted = true;
            e.claim2dead();
            from.remove(e);
        } finally {
            moves.unlockWrite(stamp);
        }
        from.ports.movedOut();
        from.allocated.decrementAndGet();
        waiters.capacityFreed(from);
        mayBeEmpty(from);
        return moved;
    }

    // ---------------------------------------------------------------- limits at run time

    public int maxTotal() {
        return capacity.maxTotal();
    }

    public int maxPerEndpoint() {
        return capacity.maxPerEndpoint();
    }

    public int maxPerEndpoint(Endpoint endpoint) {
        EndpointPool<C> ep = endpoints.get(endpoint);
        return ep == null ? capacity.maxPerEndpoint() : capacity.limit(ep);
    }

    /** New limits gate new connections at once; connections above a lowered limit leave as they retire. */
    public void setMaxTotal(int max) {
        capacity.setMaxTotal(max);
        wakeAll();
    }

    public void setMaxPerEndpoint(int max) {
        capacity.setMaxPerEndpoint(max);
        wakeAll();
    }

    public void setMaxPerEndpoint(Endpoint endpoint, int max) {
        endpointPool(endpoint).maxOverride = max;
        wakeAll();
    }

    /** {@code endpoint} follows the default limit again (and may be forgotten when empty). */
    public void clearMaxPerEndpoint(Endpoint endpoint) {
        EndpointPool<C> ep = endpoints.get(endpoint);
        if (ep != null && ep.maxOverride != 0) {
            ep.maxOverride = 0;
            wakeAll(); // the default may be above the limit it had
        }
    }

    private void wakeAll() {
        for (EndpointPool<C> ep : endpoints.values()) {
            if (ep.waiting.get() > 0) {
                waiters.dispatch(ep);
            }
        }
    }

    /**
     * Retires (by the retirement policy) the idle connections {@code which} selects; returns how
     * many. The predicate sees connections that are idle, owned by nobody.
     */
    public int retireIdle(java.util.function.BiPredicate<? super C, Duration> which) {
        int n = 0;
        long now = now();
        for (EndpointPool<C> ep : endpoints.values()) {
            for (PooledEntry<C> e : ep.entries()) {
                int st = e.state();
                if ((st == PooledEntry.IDLE || st == PooledEntry.WATCHED)
                        && which.test(e.connection, Duration.ofNanos(Math.max(0, now - e.idleSince))) && claim(e)) {
                    retirer.retire(e, CloseReason.EVICTED);
                    n++;
                }
            }
        }
        return n;
    }

    // ---------------------------------------------------------------- the housekeeper's interface

    /** Retires a connection the caller owns by the retirement policy (see {@link Retirer#retire}). */
    void retire(PooledEntry<C> e, CloseReason reason) {
        retirer.retire(e, reason);
    }

    /** Closes a connection the caller owns (see {@link Retirer#closeEntry}). */
    Ending closeEntry(PooledEntry<C> e, boolean reset, CloseReason reason) {
        return retirer.closeEntry(e, reset, reason);
    }

    /** Stops {@code e} counting against the limits (it is retiring or closed); exactly once. */
    void uncountRetired(PooledEntry<C> e) {
        capacity.uncount(e);
    }

    /** Runs one round of housekeeping now (expiry, leak detection, drain timeouts). */
    public void maintain() {
        housekeeper.runOnce();
    }

    /** Retires idle connections no longer fit to lease and reports leases held past the leak threshold. */
    void checkIdleAndLeaks(long now) {
        for (EndpointPool<C> ep : endpoints.values()) {
            if (ep.isEmpty()) {
                if (now - ep.lastEmptied >= config.maxIdleTime().toNanos()) {
                    removeIfEmpty(ep); // empty for as long as an idle connection may live
                }
                continue;
            }
            for (PooledEntry<C> e : ep.entries()) {
                int s = e.state();
                if (s == PooledEntry.IDLE || s == PooledEntry.WATCHED) {
                    CloseReason unfit = admission.unfitReason(e, now);
                    if (unfit != null && admission.lastUseCapable && unfit != CloseReason.IDLE_TIMEOUT
                            && now - e.idleSince < LAST_USE_GRACE_NANOS) {
                        // A busy connection is idle for microseconds between requests: leave it its
                        // last use (Connection: close) rather than retire it silently.
                        continue;
                    }
                    if (unfit != null && claim(e)) {
                        retirer.retire(e, unfit);
                    }
                } else if (s == PooledEntry.LEASED && leaks.enabled()) {
                    leaks.check(e, now);
                }
            }
        }
    }

    Iterable<EndpointPool<C>> endpointPools() {
        return endpoints.values();
    }

    // ---------------------------------------------------------------- stats and close

    /**
     * The pool's figures. A scan of the endpoint pools one after another would count a connection
     * moving between two of them ({@link #rehome}) twice or not at all, so it is validated against
     * {@link #moves}: a scan a move overlapped is done again under the read lock. Moves are rare
     * (Lease#moveTo), so nearly every read is one optimistic scan, and the lease path never
     * touches the lock.
     */
    public PoolStats stats() {
        long stamp = moves.tryOptimisticRead();
        PoolStats s = scan();
        if (moves.validate(stamp)) {
            return s;
        }
        stamp = moves.readLock();
        try {
            return scan();
        } finally {
            moves.unlockRead(stamp);
        }
    }

    private PoolStats scan() {
        int active = 0;
        int idle = 0;
        int draining = 0;
        int pending = 0;
        Map<Endpoint, PoolStats.EndpointStats> per = new HashMap<>();
        for (EndpointPool<C> ep : endpoints.values()) {
            PoolStats.EndpointStats s = ep.stats();
            per.put(ep.endpoint, s);
            active += s.active();
            idle += s.idle();
            draining += s.draining();
            pending += s.pending();
        }
        return new PoolStats(active, idle, draining, pending, per);
    }

    public void addListener(PoolListener listener) {
        listeners.add(listener);
    }

    /** Figures for one endpoint, scanning only its connections. */
    public PoolStats.EndpointStats stats(Endpoint endpoint) {
        EndpointPool<C> ep = endpoints.get(endpoint);
        return ep == null ? new PoolStats.EndpointStats(0, 0, 0, 0) : ep.stats();
    }

    /** The endpoints this pool has served. */
    public Set<Endpoint> endpoints() {
        return endpointsView;
    }

    /** Port usage per endpoint, for health checks. */
    public PortBudgetSnapshot portBudget() {
        long now = now();
        Map<Endpoint, PortBudgetSnapshot.EndpointBudget> per = new HashMap<>();
        for (EndpointPool<C> ep : endpoints.values()) {
            per.put(ep.endpoint, ep.ports.usage(portGate.perEndpoint(), now));
        }
        return new PortBudgetSnapshot(portGate.budget(), per);
    }

    /** Connections counted against the total limit (leased, idle and being opened). */
    public int totalAllocated() {
        return capacity.total();
    }

    /**
     * Closes the pool; returns once its idle and draining connections are closed, also to a
     * caller that comes while another is still closing them (it waits for that close). The
     * closing thread itself (a listener of its close calling close again), and a listener called
     * from inside the pool's housekeeping, return at once. A connection whose goodbye is being
     * said (RETIRING) is closed by the thread saying it, once it is said.
     */
    public void close() {
        boolean first;
        Thread closer;
        synchronized (closeDone) {
            first = !closed;
            closed = true;
            closer = closingThread;
            if (first) {
                closingThread = Thread.currentThread();
            }
        }
        if (!first) {
            // A close called from inside this pool's housekeeping (a listener told of a close
            // there) returns at once, as the closing thread's own does: the first close waits
            // for that housekeeping, so waiting for it here would never end.
            if (closer != Thread.currentThread() && !housekeeper.heldByCurrentThread()) {
                awaitClosed();
            }
            return;
        }
        try {
            waiters.failAll();
            housekeeper.shutdown();
        } finally {
            listeners.poolClosed();
            closeDone.countDown();
            synchronized (closeDone) {
                closingThread = null; // no reference to the caller's thread once closed
            }
        }
    }

    /** Waits, uninterruptibly as the first close does, until the first close is done. */
    private void awaitClosed() {
        boolean interrupted = false;
        while (true) {
            try {
                closeDone.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Called by the housekeeper, on its own thread, once it has stopped: closes what is left idle or draining. */
    void closeRemaining() {
        Ending fallback = config.retirement().fallback();
        for (EndpointPool<C> ep : endpoints.values()) {
            for (PooledEntry<C> e : ep.entries()) {
                if (claim(e)) {
                    retirer.closeEntry(e, fallback == Ending.RESET, CloseReason.POOL_CLOSED);
                }
            }
        }
    }
}
