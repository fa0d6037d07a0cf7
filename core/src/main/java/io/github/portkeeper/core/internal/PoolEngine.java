package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.ConnectFailedException;
import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.LeaseTimeoutException;
import io.github.portkeeper.core.PoolClosedException;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PoolException;
import io.github.portkeeper.core.PoolStats;
import io.github.portkeeper.core.PortBudgetExhaustedException;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.Ticker;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The pool engine behind {@link io.github.portkeeper.core.Pool}. Lease and release are lock-free
 * on the reuse path; waiting leases queue per endpoint and are served first come, first served;
 * every retirement and close goes through {@link #retire} and {@link #closeEntry}.
 *
 * <p>Thread-safe.
 */
public final class PoolEngine<C> {

    private final Connector<C> connector;
    private final PoolConfig config;
    private final Ticker ticker;
    final Listeners listeners;
    private final ConcurrentHashMap<Endpoint, EndpointPool<C>> endpoints = new ConcurrentHashMap<>();
    private final AtomicInteger totalAllocated = new AtomicInteger();
    private final int maxPerEndpoint;
    private final int maxTotal;
    private final long maxIdleNanos;
    private final long maxLifetimeNanos;
    private final long lifetimeJitterNanos;
    private final long leakThresholdNanos;
    private final int maxLeases;
    private final long watchDelayNanos;
    private static final long BUDGET_POLL_NANOS = 10_000_000L;
    /** How long an expired connection that can have a last use waits idle for it before retiring anyway. */
    private static final long LAST_USE_GRACE_NANOS = 1_000_000_000L;
    private final io.github.portkeeper.core.PortBudget portBudget;
    private final int portBudgetPerEndpoint;
    private final io.github.portkeeper.core.ConnectGuard connectGuard;
    /** Whether connections past their lifetime get one last lease that asks the peer to close. */
    private final boolean lastUseCapable;
    final Housekeeper<C> housekeeper;
    private volatile boolean closed;

    public PoolEngine(Connector<C> connector, PoolConfig config) {
        this.connector = connector;
        this.config = config;
        this.ticker = config.ticker();
        this.listeners = new Listeners(config.listeners());
        this.maxPerEndpoint = config.maxPerEndpoint();
        this.maxTotal = config.maxTotal();
        this.maxIdleNanos = config.maxIdleTime().toNanos();
        this.maxLifetimeNanos = config.maxLifetime().toNanos();
        this.lifetimeJitterNanos = config.lifetimeJitter().toNanos();
        this.leakThresholdNanos = config.leakDetectionThreshold().toNanos();
        this.maxLeases = config.maxLeasesPerConnection();
        this.watchDelayNanos = config.housekeepingInterval().toNanos();
        this.portBudget = config.portBudget();
        this.portBudgetPerEndpoint = portBudget.perEndpoint();
        this.connectGuard = config.connectGuard();
        Retirement.Policy policy = config.retirement().policy();
        this.lastUseCapable = connector.supportsLastUse()
                && (policy == Retirement.Policy.AWAIT_PEER || policy == Retirement.Policy.REQUEST_PEER_CLOSE);
        this.housekeeper = new Housekeeper<>(this, config);
    }

    /**
     * Takes an announced idle timeout for {@code endpoint} (for example HTTP's
     * {@code Keep-Alive: timeout=N}); connections idle longer than it minus the safety margin are
     * no longer leased.
     */
    public void hintIdleTimeout(Endpoint endpoint, Duration timeout) {
        EndpointPool<C> ep = endpoints.computeIfAbsent(endpoint, e -> new EndpointPool<>(this, e));
        ep.hintedIdleTimeoutNanos = timeout.toNanos();
    }

    /** The server idle timeout learned or announced for {@code endpoint}, if any. */
    public java.util.Optional<Duration> serverIdleTimeout(Endpoint endpoint) {
        EndpointPool<C> ep = endpoints.get(endpoint);
        long nanos = ep == null ? Long.MAX_VALUE : ep.serverIdleTimeoutNanos();
        return nanos == Long.MAX_VALUE ? java.util.Optional.empty() : java.util.Optional.of(Duration.ofNanos(nanos));
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

    // ---------------------------------------------------------------- lease

    public PooledEntry<C> lease(Endpoint endpoint, Duration timeout) throws IOException {
        EndpointPool<C> ep = endpoints.get(endpoint);
        if (ep == null) {
            ep = endpoints.computeIfAbsent(endpoint, e -> new EndpointPool<>(this, e));
        }
        if (closed) {
            throw rejected(endpoint, closedException(endpoint));
        }
        if (ep.waiting.get() == 0) {
            PooledEntry<C> e = claimAndAdmit(ep);
            if (e != null) {
                onLeased(e, true, 0L);
                return e;
            }
            if (reserve(ep)) {
                return connectNew(ep, 0L, timeout.toNanos());
            }
        }
        return awaitLease(ep, timeout.toNanos());
    }

    /** Claims an idle connection that is still fit to lease, retiring unfit ones on the way. */
    private PooledEntry<C> claimAndAdmit(EndpointPool<C> ep) {
        PooledEntry<C> e;
        while ((e = ep.claimIdle()) != null) {
            long now = now();
            CloseReason unfit = unfitReason(e, now);
            if (unfit == null && now - e.idleSince >= watchDelayNanos && !quietSinceIdle(e)) {
                continue; // the peer closed it (or wrote to it) while it sat idle; it is gone
            }
            if (unfit == null || (lastUseCapable && unfit != CloseReason.IDLE_TIMEOUT)) {
                if (connector.validate(e.connection)) {
                    // Past its lifetime or budget but the protocol can ask the peer to close on
                    // this last use (HTTP's Connection: close): one more lease, then it retires.
                    e.lastUse = unfit != null;
                    return e;
                }
                unfit = CloseReason.VALIDATION_FAILED;
            }
            retire(e, unfit);
        }
        return null;
    }

    /**
     * For a connection idle for a tick or more that the watcher has not registered yet (it lags
     * under load), looks for the peer's FIN before leasing it: three cheap syscalls on a path
     * that has waited a tick anyway. Connections reused within a tick are not checked (the hot
     * path does no I/O). Returns false, having closed or retired it, if anything had arrived.
     */
    private boolean quietSinceIdle(PooledEntry<C> e) {
        SocketChannel channel = e.channel();
        if (channel == null || !channel.isBlocking()) {
            return true;
        }
        int first;
        try {
            channel.configureBlocking(false);
            first = SocketCloser.readIdleHead(channel);
            if (first == SocketCloser.HEAD_NOTHING) {
                channel.configureBlocking(true);
                return true;
            }
        } catch (IOException | RuntimeException ex) {
            first = SocketCloser.HEAD_FIN;
        }
        if (first == SocketCloser.HEAD_FIN) {
            closeEntry(e, false, CloseReason.PEER_CLOSED);
        } else {
            retire(e, CloseReason.UNEXPECTED_DATA);
        }
        return false;
    }

    /** Why an idle connection must not be leased any more, or null if it may. */
    CloseReason unfitReason(PooledEntry<C> e, long now) {
        if (e.isExpired(now)) {
            return CloseReason.LIFETIME;
        }
        if (maxLeases > 0 && e.leaseCount >= maxLeases) {
            return CloseReason.LEASE_BUDGET;
        }
        if (now - e.idleSince >= housekeeper.idleLimitNanos(e.pool, maxIdleNanos)) {
            return CloseReason.IDLE_TIMEOUT;
        }
        return null;
    }

    private PooledEntry<C> awaitLease(EndpointPool<C> ep, long timeoutNanos) throws IOException {
        long start = System.nanoTime();
        Waiter<C> w = new Waiter<>(Thread.currentThread());
        ep.waiting.incrementAndGet();
        ep.waiters.add(w);
        dispatch(ep);
        for (;;) {
            int s = w.state();
            if (s != Waiter.WAITING) {
                return collect(ep, w, start, timeoutNanos);
            }
            boolean interrupted = Thread.interrupted();
            long remaining = timeoutNanos - (System.nanoTime() - start);
            if (interrupted || remaining <= 0 || closed) {
                if (w.cancel()) {
                    ep.waiting.decrementAndGet();
                    ep.waiters.remove(w);
                    long waited = System.nanoTime() - start;
                    if (interrupted) {
                        Thread.currentThread().interrupt();
                        InterruptedIOException ie = new InterruptedIOException(
                                "Interrupted while waiting for a connection to " + ep.endpoint);
                        throw rejected(ep.endpoint, ie);
                    }
                    if (closed) {
                        throw rejected(ep.endpoint, closedException(ep.endpoint));
                    }
                    listeners.leaseTimedOut(ep.endpoint, waited);
                    throw new LeaseTimeoutException(ep.endpoint, "Timed out after " + Duration.ofNanos(waited).toMillis()
                            + " ms waiting for a connection to " + ep.endpoint + " (" + describeLimits(ep) + ")");
                }
                // Fulfilled while we gave up: take what we were given, then honour the interrupt.
                if (interrupted) {
                    Thread.currentThread().interrupt();
                    giveBack(ep, w);
                    throw rejected(ep.endpoint, new InterruptedIOException(
                            "Interrupted while waiting for a connection to " + ep.endpoint));
                }
                return collect(ep, w, start, timeoutNanos);
            }
            LockSupport.parkNanos(this, remaining);
        }
    }

    private PooledEntry<C> collect(EndpointPool<C> ep, Waiter<C> w, long start, long timeoutNanos) throws IOException {
        long waited = System.nanoTime() - start;
        switch (w.awaitOutcome()) {
            case Waiter.ENTRY:
                PooledEntry<C> e = w.entry();
                onLeased(e, true, waited);
                return e;
            case Waiter.PERMIT:
                return connectNew(ep, waited, timeoutNanos);
            case Waiter.POOL_CLOSED:
                throw rejected(ep.endpoint, closedException(ep.endpoint));
            default:
                throw new IllegalStateException("waiter in unexpected state " + w.state());
        }
    }

    /** Returns what a waiter was given after it had stopped wanting it. */
    private void giveBack(EndpointPool<C> ep, Waiter<C> w) {
        int outcome = w.awaitOutcome();
        if (outcome == Waiter.ENTRY) {
            PooledEntry<C> e = w.entry();
            e.idleSince = now();
            ep.makeIdle(e);
            dispatch(ep);
        } else if (outcome == Waiter.PERMIT) {
            unreserve(ep);
        }
    }

    private String describeLimits(EndpointPool<C> ep) {
        PoolStats.EndpointStats s = ep.stats();
        return "active " + s.active() + ", idle " + s.idle() + ", pending " + s.pending()
                + "; maxPerEndpoint " + maxPerEndpoint + ", maxTotal " + maxTotal + ", total open " + totalAllocated.get();
    }

    /**
     * Opens a connection in a slot the caller reserved, if the port budget allows; otherwise
     * gives the slot back and waits for the budget (see {@link #awaitPortBudget}).
     */
    private PooledEntry<C> connectNew(EndpointPool<C> ep, long waitedNanos, long timeoutNanos) throws IOException {
        if (!takePort(ep)) {
            unreserve(ep);
            return awaitPortBudget(ep, waitedNanos, timeoutNanos);
        }
        return open(ep, waitedNanos);
    }

    private boolean takePort(EndpointPool<C> ep) {
        if (!portBudget.isEnabled()) {
            ep.ports.take();
            return true;
        }
        if (portBudget.usesKernel() && housekeeper.kernel.isAvailable()) {
            // Before the first connection, and again whenever a tenth of the budget has been
            // opened since the last read (a burst): what do others hold toward this endpoint?
            housekeeper.kernel.readIfStale(ep, portBudgetPerEndpoint, now());
        }
        return ep.ports.tryTake(portBudgetPerEndpoint, now());
    }

    /**
     * The endpoint's port budget is spent. Wait, within the lease timeout, for a connection to
     * come back to the idle set or for ports to come back (TIME_WAIT expiring, connections
     * closing), checking every 10 ms; then fail with a {@link PortBudgetExhaustedException}.
     * Arrival order is not kept in this state: the budget, not the limits, is the bottleneck.
     */
    private PooledEntry<C> awaitPortBudget(EndpointPool<C> ep, long waitedNanos, long timeoutNanos) throws IOException {
        long start = System.nanoTime() - waitedNanos;
        for (;;) {
            if (closed) {
                throw rejected(ep.endpoint, closedException(ep.endpoint));
            }
            PooledEntry<C> e = claimAndAdmit(ep);
            if (e != null) {
                onLeased(e, true, System.nanoTime() - start);
                return e;
            }
            if (reserve(ep)) {
                if (takePort(ep)) {
                    return open(ep, System.nanoTime() - start);
                }
                unreserve(ep);
            }
            long remaining = timeoutNanos - (System.nanoTime() - start);
            if (remaining <= 0) {
                PortBudgetExhaustedException spent = new PortBudgetExhaustedException(ep.endpoint, portBudget,
                        ep.ports.usage(portBudgetPerEndpoint, now()));
                listeners.leaseRejected(ep.endpoint, spent);
                throw spent;
            }
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                throw rejected(ep.endpoint, new InterruptedIOException(
                        "Interrupted while waiting for the port budget toward " + ep.endpoint));
            }
            LockSupport.parkNanos(this, Math.min(remaining, BUDGET_POLL_NANOS));
        }
    }

    /** Opens a connection; the caller holds a reserved slot and a port. */
    private PooledEntry<C> open(EndpointPool<C> ep, long waitedNanos) throws IOException {
        try {
            connectGuard.beforeConnect(ep.endpoint);
        } catch (PoolException | RuntimeException refused) {
            ep.ports.giveBack();
            unreserve(ep);
            listeners.leaseRejected(ep.endpoint, refused);
            throw refused;
        }
        long t0 = System.nanoTime();
        C connection;
        try {
            connection = connector.connect(ep.endpoint);
            if (connection == null) {
                throw new IOException("connector returned no connection");
            }
        } catch (IOException | RuntimeException ex) {
            long nanos = System.nanoTime() - t0;
            ep.ports.giveBack(); // also ends the connect in progress
            unreserve(ep);
            connectGuard.connectFailed(ep.endpoint, nanos, ex instanceof IOException ? (IOException) ex : new IOException(ex));
            listeners.connectFailed(ep.endpoint, ex);
            ConnectFailedException failure = new ConnectFailedException(ep.endpoint, ex);
            listeners.leaseRejected(ep.endpoint, failure);
            throw failure;
        }
        long connectNanos = System.nanoTime() - t0;
        ep.ports.connectDone();
        connectGuard.connectSucceeded(ep.endpoint, connectNanos);
        long now = now();
        long jitter = lifetimeJitterNanos > 0 ? ThreadLocalRandom.current().nextLong(lifetimeJitterNanos + 1) : 0L;
        PooledEntry<C> e = new PooledEntry<>(ep, connection, now, maxLifetimeNanos - jitter);
        e.idleSince = now;
        ep.add(e);
        housekeeper.ensureStarted();
        listeners.connectionOpened(ep.endpoint, connectNanos);
        if (closed) {
            retire(e, CloseReason.POOL_CLOSED);
            throw rejected(ep.endpoint, closedException(ep.endpoint));
        }
        onLeased(e, false, waitedNanos);
        return e;
    }

    private void onLeased(PooledEntry<C> e, boolean reused, long waitedNanos) {
        e.prepareLease(reused);
        e.leaseCount++;
        if (leakThresholdNanos > 0) {
            e.leakReported = false;
            e.leasedFrom = new Throwable("Lease of " + e.pool.endpoint + " taken here");
            e.leasedAt = now();
        }
        listeners.leased(e.pool.endpoint, reused, waitedNanos);
    }

    private PoolException rejected(Endpoint endpoint, IOException reason) {
        listeners.leaseRejected(endpoint, reason);
        return reason instanceof PoolException ? (PoolException) reason : new PoolException(endpoint, reason.getMessage(), reason);
    }

    private PoolClosedException closedException(Endpoint endpoint) {
        return new PoolClosedException(endpoint, "Pool '" + config.name() + "' is closed; cannot lease a connection to " + endpoint);
    }

    // ---------------------------------------------------------------- capacity

    private boolean reserve(EndpointPool<C> ep) {
        for (;;) {
            int n = ep.allocated.get();
            if (n >= maxPerEndpoint) {
                return false;
            }
            if (ep.allocated.compareAndSet(n, n + 1)) {
                break;
            }
        }
        for (;;) {
            int t = totalAllocated.get();
            if (t >= maxTotal) {
                ep.allocated.decrementAndGet();
                return false;
            }
            if (totalAllocated.compareAndSet(t, t + 1)) {
                return true;
            }
        }
    }

    private void unreserve(EndpointPool<C> ep) {
        ep.allocated.decrementAndGet();
        totalAllocated.decrementAndGet();
        capacityFreed(ep);
    }

    /** Stops {@code e} counting against the limits (it is retiring or closed); exactly once. */
    void uncountRetired(PooledEntry<C> e) {
        uncount(e);
    }

    private void uncount(PooledEntry<C> e) {
        if (!e.uncounted) {
            e.uncounted = true;
            unreserve(e.pool);
        }
    }

    private void capacityFreed(EndpointPool<C> ep) {
        if (ep.waiting.get() > 0) {
            dispatch(ep);
        }
        // Waiters of other endpoints may be blocked by the total limit only.
        for (EndpointPool<C> other : endpoints.values()) {
            if (other != ep && other.waiting.get() > 0) {
                dispatch(other);
            }
        }
    }

    /**
     * Serves an endpoint's waiters in arrival order with idle connections, or with permits to open
     * new ones while the limits allow. Safe to call from any thread at any time.
     */
    void dispatch(EndpointPool<C> ep) {
        while (ep.waiting.get() > 0 && !closed) {
            Waiter<C> w = ep.waiters.peek();
            if (w == null) {
                return;
            }
            if (!w.isWaiting()) {
                ep.waiters.remove(w);
                continue;
            }
            PooledEntry<C> e = claimAndAdmit(ep);
            if (e != null) {
                if (w.offerEntry(e)) {
                    ep.waiting.decrementAndGet();
                    ep.waiters.remove(w);
                } else {
                    ep.makeIdle(e);
                }
                continue;
            }
            if (reserve(ep)) {
                if (w.offerPermit()) {
                    ep.waiting.decrementAndGet();
                    ep.waiters.remove(w);
                } else {
                    ep.allocated.decrementAndGet();
                    totalAllocated.decrementAndGet();
                }
                continue;
            }
            if (ep.allocated.get() < maxPerEndpoint && evictIdleElsewhere(ep)) {
                continue;
            }
            return;
        }
    }

    /** Under the total limit, retires another endpoint's longest-idle connection to make room. */
    private boolean evictIdleElsewhere(EndpointPool<C> needy) {
        PooledEntry<C> victim = null;
        for (EndpointPool<C> other : endpoints.values()) {
            if (other == needy) {
                continue;
            }
            PooledEntry<C> candidate = other.longestIdle();
            if (candidate != null && (victim == null || candidate.idleSince - victim.idleSince < 0)) {
                victim = candidate;
            }
        }
        if (victim != null && claim(victim)) {
            retire(victim, CloseReason.EVICTED);
            return true;
        }
        return false;
    }

    /** Takes an idle or watched connection for the caller (who then owns it), or returns false. */
    boolean claim(PooledEntry<C> e) {
        return e.casState(PooledEntry.IDLE, PooledEntry.LEASED)
                || (e.state() == PooledEntry.WATCHED && reclaimWatched(e));
    }

    boolean reclaimWatched(PooledEntry<C> e) {
        return housekeeper.reclaim(e);
    }

    // ---------------------------------------------------------------- release, retire, close

    void release(PooledEntry<C> e) {
        EndpointPool<C> ep = e.pool;
        if (e.leasedFrom != null) {
            e.leasedFrom = null;
        }
        if (e.isBroken() || e.aborted) {
            listeners.released(ep.endpoint, false);
            discardBroken(e);
            return;
        }
        long now = now();
        CloseReason reason = closed ? CloseReason.POOL_CLOSED
                : e.lastUse ? (e.isExpired(now) ? CloseReason.LIFETIME : CloseReason.LEASE_BUDGET)
                : e.isRetireRequested() ? CloseReason.RETIRED
                : lastUseCapable ? null // an expired one gets its last use on the next lease
                : unfitOnRelease(e, now);
        // A last-use-capable connection past its lifetime or budget stays, for one last lease.
        boolean dueForLastUse = reason == null && lastUseCapable && !e.lastUse && unfitOnRelease(e, now) != null;
        e.lastUse = false;
        if (reason != null) {
            listeners.released(ep.endpoint, false);
            retire(e, reason);
            return;
        }
        e.idleSince = now;
        listeners.released(ep.endpoint, true);
        if (ep.waiting.get() > 0) {
            e.lastUse = dueForLastUse; // handed over directly, so the claim-time check is skipped
            if (handOff(ep, e)) {
                return;
            }
            e.lastUse = false;
        }
        ep.makeIdle(e);
        if (ep.waiting.get() > 0) {
            dispatch(ep);
        }
    }

    private CloseReason unfitOnRelease(PooledEntry<C> e, long now) {
        if (e.isExpired(now)) {
            return CloseReason.LIFETIME;
        }
        return maxLeases > 0 && e.leaseCount >= maxLeases ? CloseReason.LEASE_BUDGET : null;
    }

    private boolean handOff(EndpointPool<C> ep, PooledEntry<C> e) {
        Waiter<C> w;
        while ((w = ep.waiters.peek()) != null) {
            if (w.offerEntry(e)) {
                ep.waiting.decrementAndGet();
                ep.waiters.remove(w);
                return true;
            }
            ep.waiters.remove(w);
        }
        return false;
    }

    /** A broken connection may have bytes in flight: it is closed at once, never drained. */
    private void discardBroken(PooledEntry<C> e) {
        uncount(e);
        closeEntry(e, config.retirement().policy() != Retirement.Policy.LOCAL, CloseReason.BROKEN);
    }

    /**
     * Retires a connection the caller owns (claimed or leased) by the pool's retirement policy.
     * The connection stops counting against the limits at once.
     */
    void retire(PooledEntry<C> e, CloseReason reason) {
        uncount(e);
        Retirement retirement = config.retirement();
        switch (retirement.policy()) {
            case RESET:
                closeEntry(e, true, reason);
                return;
            case LOCAL:
                closeEntry(e, false, reason);
                return;
            default:
                if (e.channel() == null || closed) {
                    closeEntry(e, retirement.fallback() == Ending.RESET, reason);
                    return;
                }
                if (retirement.policy() == Retirement.Policy.REQUEST_PEER_CLOSE && !sayGoodbye(e)) {
                    closeEntry(e, retirement.fallback() == Ending.RESET, reason);
                    return;
                }
                listeners.connectionRetiring(e.pool.endpoint, reason);
                housekeeper.drain(e, reason);
        }
    }

    private boolean sayGoodbye(PooledEntry<C> e) {
        try {
            connector.requestPeerClose(e.connection);
            return true;
        } catch (IOException | RuntimeException ex) {
            return false;
        }
    }

    /** The one place a pooled connection is closed. The caller owns {@code e}. */
    Ending closeEntry(PooledEntry<C> e, boolean reset, CloseReason reason) {
        uncount(e);
        SocketChannel channel = e.channel();
        Ending ending;
        if (e.aborted) {
            SocketCloser.abort(channel);
            ending = Ending.RESET;
        } else if (channel == null && !connector.wasEstablished(e.connection)) {
            ending = Ending.FAILED;
        } else if (channel != null && !channel.isOpen()) {
            // Closed behind the pool's back: the JDK closes an interrupted blocking channel, with
            // a plain FIN. Established connections end LOCAL; ones that never connected, FAILED.
            ending = connector.wasEstablished(e.connection) ? Ending.LOCAL : Ending.FAILED;
        } else {
            ending = SocketCloser.close(channel, reset);
        }
        try {
            connector.dispose(e.connection);
        } catch (RuntimeException ignored) {
            // The socket is closed; a failing dispose must not stop the accounting.
        }
        e.setState(PooledEntry.CLOSED);
        e.pool.ports.closed(ending == Ending.LOCAL, now());
        e.pool.remove(e);
        listeners.connectionClosed(e.pool.endpoint, ending, reason);
        return ending;
    }

    // ---------------------------------------------------------------- housekeeping hooks

    /** Runs one round of housekeeping now (expiry, leak detection, drain timeouts). */
    public void maintain() {
        housekeeper.runOnce();
    }

    void checkIdleAndLeaks(long now) {
        for (EndpointPool<C> ep : endpoints.values()) {
            for (PooledEntry<C> e : ep.entries()) {
                int s = e.state();
                if (s == PooledEntry.IDLE || s == PooledEntry.WATCHED) {
                    CloseReason unfit = unfitReason(e, now);
                    if (unfit != null && lastUseCapable && unfit != CloseReason.IDLE_TIMEOUT
                            && now - e.idleSince < LAST_USE_GRACE_NANOS) {
                        // A busy connection is idle for microseconds between requests: leave it its
                        // last use (Connection: close) rather than retire it silently.
                        continue;
                    }
                    if (unfit != null && claim(e)) {
                        retire(e, unfit);
                    }
                } else if (s == PooledEntry.LEASED && leakThresholdNanos > 0) {
                    checkLeak(e, now);
                }
            }
        }
    }

    private void checkLeak(PooledEntry<C> e, long now) {
        Throwable from = e.leasedFrom;
        long heldFor = now - e.leasedAt;
        if (from != null && !e.leakReported && heldFor >= leakThresholdNanos) {
            e.leakReported = true;
            trimPoolFrames(from);
            Duration held = Duration.ofNanos(heldFor);
            System.getLogger("io.github.portkeeper.core.Pool").log(System.Logger.Level.WARNING,
                    "Possible connection leak in pool '" + config.name() + "': a lease of " + e.pool.endpoint
                            + " has been held for " + held.toMillis() + " ms (leakDetectionThreshold "
                            + config.leakDetectionThreshold().toMillis() + " ms); it was taken at:", from);
            listeners.leakSuspected(e.pool.endpoint, held, from);
        }
    }

    /** Starts the lease's trace at the caller's code, not inside the pool. */
    private static void trimPoolFrames(Throwable trace) {
        StackTraceElement[] frames = trace.getStackTrace();
        int first = 0;
        while (first < frames.length && isPoolFrame(frames[first].getClassName())) {
            first++;
        }
        if (first > 0 && first < frames.length) {
            trace.setStackTrace(java.util.Arrays.copyOfRange(frames, first, frames.length));
        }
    }

    private static boolean isPoolFrame(String className) {
        return className.startsWith("io.github.portkeeper.core.internal.")
                || className.equals("io.github.portkeeper.core.Pool")
                || className.equals("io.github.portkeeper.core.SocketPool");
    }

    Iterable<EndpointPool<C>> endpointPools() {
        return endpoints.values();
    }

    // ---------------------------------------------------------------- stats and close

    public PoolStats stats() {
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

    public void addListener(io.github.portkeeper.core.PoolListener listener) {
        listeners.add(listener);
    }

    /** Figures for one endpoint, scanning only its connections. */
    public PoolStats.EndpointStats stats(Endpoint endpoint) {
        EndpointPool<C> ep = endpoints.get(endpoint);
        return ep == null ? new PoolStats.EndpointStats(0, 0, 0, 0) : ep.stats();
    }

    /** The endpoints this pool has served. */
    public java.util.Set<Endpoint> endpoints() {
        return java.util.Collections.unmodifiableSet(endpoints.keySet());
    }

    /** Port usage per endpoint, for health checks. */
    public io.github.portkeeper.core.PortBudgetSnapshot portBudget() {
        long now = now();
        Map<Endpoint, io.github.portkeeper.core.PortBudgetSnapshot.EndpointBudget> per = new HashMap<>();
        for (EndpointPool<C> ep : endpoints.values()) {
            per.put(ep.endpoint, ep.ports.usage(portBudgetPerEndpoint, now));
        }
        return new io.github.portkeeper.core.PortBudgetSnapshot(portBudget, per);
    }

    /** Connections counted against the total limit (leased, idle and being opened). */
    public int totalAllocated() {
        return totalAllocated.get();
    }

    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (EndpointPool<C> ep : endpoints.values()) {
            Waiter<C> w;
            while ((w = ep.waiters.poll()) != null) {
                if (w.offerPoolClosed()) {
                    ep.waiting.decrementAndGet();
                }
            }
        }
        housekeeper.shutdown();
    }

    /** Called by the housekeeper, on its own thread, once it has stopped: closes what is left idle or draining. */
    void closeRemaining() {
        Ending fallback = config.retirement().fallback();
        for (EndpointPool<C> ep : endpoints.values()) {
            for (PooledEntry<C> e : ep.entries()) {
                if (claim(e)) {
                    closeEntry(e, fallback == Ending.RESET, CloseReason.POOL_CLOSED);
                }
            }
        }
    }
}
