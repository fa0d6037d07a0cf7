package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.LeaseTimeoutException;
import io.github.portkeeper.core.PoolException;
import io.github.portkeeper.core.PoolStats;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Waiting and hand-off. A lease that finds neither an idle connection nor room queues a
 * {@link Waiter} in its endpoint's FIFO queue and parks; whoever frees something (a release, a
 * retirement, a closed connection) runs {@link #dispatch}, which serves waiters in arrival order
 * with an idle connection or a permit to open one. A waiter that asked for a new connection
 * ({@code leaseNew}) is only ever given a permit.
 */
final class Dispatcher<C> {

    private final PoolEngine<C> engine;
    /** Waiters of all endpoints, so a release can tell cheaply whether others may be blocked by the total limit. */
    private final AtomicInteger allWaiting = new AtomicInteger();

    Dispatcher(PoolEngine<C> engine) {
        this.engine = engine;
    }

    /** A waiter of {@code ep} stopped waiting (served, cancelled or failed). */
    private void left(EndpointPool<C> ep) {
        ep.waiting.decrementAndGet();
        allWaiting.decrementAndGet();
    }

    /**
     * A connection of {@code ep} became idle. Waiters of other endpoints blocked by the total
     * limit alone can be served by retiring it: let them try.
     */
    void serveOthersBlockedByTotal(EndpointPool<C> ep) {
        if (allWaiting.get() > ep.waiting.get() && engine.capacity.total() >= engine.capacity.maxTotal()) {
            for (EndpointPool<C> other : engine.endpointPools()) {
                if (other != ep && other.waiting.get() > 0) {
                    dispatch(other);
                }
            }
        }
    }

    /**
     * Queues and parks until served, or fails; null if the endpoint pool turned out removed
     * (the caller looks the endpoint up again).
     */
    LeaseHandle<C> awaitLease(EndpointPool<C> ep, long timeoutNanos, boolean fresh) throws IOException {
        long start = System.nanoTime();
        Waiter<C> w = new Waiter<>(Thread.currentThread(), fresh);
        ep.waiting.incrementAndGet();
        allWaiting.incrementAndGet();
        ep.waiters.add(w);
        if (ep.isRemoved() && w.cancel()) {
            left(ep);
            ep.waiters.remove(w);
            return null;
        }
        dispatch(ep);
        for (;;) {
            int s = w.state();
            if (s != Waiter.WAITING) {
                return collect(ep, w, start, timeoutNanos);
            }
            boolean interrupted = Thread.interrupted();
            long remaining = timeoutNanos - (System.nanoTime() - start);
            if (interrupted || remaining <= 0 || engine.isClosed()) {
                if (w.cancel()) {
                    left(ep);
                    ep.waiters.remove(w);
                    engine.mayBeEmpty(ep);
                    long waited = System.nanoTime() - start;
                    if (interrupted) {
                        Thread.currentThread().interrupt();
                        InterruptedIOException ie = new InterruptedIOException(
                                "Interrupted while waiting for a connection to " + ep.endpoint);
                        throw engine.rejected(ep.endpoint, ie);
                    }
                    if (engine.isClosed()) {
                        throw engine.rejected(ep.endpoint, engine.closedException(ep.endpoint));
                    }
                    engine.listeners.leaseTimedOut(ep.endpoint, waited);
                    throw new LeaseTimeoutException(ep.endpoint, "Timed out after " + Duration.ofNanos(waited).toMillis()
                            + " ms waiting for a connection to " + ep.endpoint + " (" + describeLimits(ep) + ")");
                }
                // Fulfilled while we gave up: take what we were given, then honour the interrupt.
                if (interrupted) {
                    Thread.currentThread().interrupt();
                    giveBack(ep, w);
                    throw engine.rejected(ep.endpoint, new InterruptedIOException(
                            "Interrupted while waiting for a connection to " + ep.endpoint));
                }
                return collect(ep, w, start, timeoutNanos);
            }
            LockSupport.parkNanos(this, remaining);
        }
    }

    private LeaseHandle<C> collect(EndpointPool<C> ep, Waiter<C> w, long start, long timeoutNanos) throws IOException {
        long waited = System.nanoTime() - start;
        switch (w.awaitOutcome()) {
            case Waiter.ENTRY:
                return engine.onLeased(w.entry(), true, waited);
            case Waiter.PERMIT:
                return engine.opener.connectNew(ep, waited, timeoutNanos, w.fresh);
            case Waiter.POOL_CLOSED:
                throw engine.rejected(ep.endpoint, engine.closedException(ep.endpoint));
            default:
                throw new IllegalStateException("waiter in unexpected state " + w.state());
        }
    }

    /** Returns what a waiter was given after it had stopped wanting it. */
    private void giveBack(EndpointPool<C> ep, Waiter<C> w) {
        int outcome = w.awaitOutcome();
        if (outcome == Waiter.ENTRY) {
            PooledEntry<C> e = w.entry();
            e.idleSince = engine.now();
            engine.publishIdle(e);
            dispatch(ep);
            serveOthersBlockedByTotal(ep);
        } else if (outcome == Waiter.PERMIT) {
            engine.capacity.unreserve(ep);
        }
    }

    private String describeLimits(EndpointPool<C> ep) {
        PoolStats.EndpointStats s = ep.stats();
        return "active " + s.active() + ", idle " + s.idle() + ", pending " + s.pending()
                + "; maxPerEndpoint " + engine.capacity.maxPerEndpoint() + ", maxTotal " + engine.capacity.maxTotal()
                + ", total open " + engine.capacity.total();
    }

    /** Room was freed in {@code ep}: serve its waiters, then those of other endpoints, which the total limit may have blocked. */
    void capacityFreed(EndpointPool<C> ep) {
        if (ep.waiting.get() > 0) {
            dispatch(ep);
        }
        if (allWaiting.get() > ep.waiting.get()) { // only then can another endpoint have a waiter
            for (EndpointPool<C> other : engine.endpointPools()) {
                if (other != ep && other.waiting.get() > 0) {
                    dispatch(other);
                }
            }
        }
    }

    /**
     * Serves an endpoint's waiters in arrival order with idle connections, or with permits to open
     * new ones while the limits allow. Safe to call from any thread at any time.
     */
    void dispatch(EndpointPool<C> ep) {
        while (ep.waiting.get() > 0 && !engine.isClosed()) {
            Waiter<C> w = ep.waiters.peek();
            if (w == null) {
                return;
            }
            if (!w.isWaiting()) {
                ep.waiters.remove(w);
                continue;
            }
            if (!w.fresh) {
                PooledEntry<C> e;
                try {
                    e = engine.admission.claimAndAdmit(ep);
                } catch (PoolException validationThrew) {
                    continue; // discarded, slot freed; the waiter is served by what comes next
                }
                if (e != null) {
                    if (w.offerEntry(e)) {
                        left(ep);
                        ep.waiters.remove(w);
                    } else {
                        engine.publishIdle(e);
                    }
                    continue;
                }
            }
            if (engine.capacity.reserve(ep)) {
                if (w.offerPermit()) {
                    left(ep);
                    ep.waiters.remove(w);
                } else {
                    engine.capacity.unreserveQuietly(ep);
                }
                continue;
            }
            if (w.fresh && makeRoomIn(ep)) {
                continue;
            }
            if (engine.capacity.belowEndpointLimit(ep) && evictIdleElsewhere(ep)) {
                continue;
            }
            return;
        }
    }

    /**
     * For a new connection at the endpoint's limit: retires one of its idle connections to make
     * room, taken as HELD (not LEASED: no lease holds it, so it never shows as active).
     */
    boolean makeRoomIn(EndpointPool<C> ep) {
        PooledEntry<C> idle = ep.claimToEvict();
        if (idle == null) {
            return false;
        }
        engine.retirer.retire(idle, CloseReason.EVICTED);
        return true;
    }

    /** Under the total limit, retires another endpoint's longest-idle connection to make room. */
    boolean evictIdleElsewhere(EndpointPool<C> needy) {
        PooledEntry<C> victim = null;
        for (EndpointPool<C> other : engine.endpointPools()) {
            if (other == needy) {
                continue;
            }
            PooledEntry<C> candidate = other.longestIdle();
            if (candidate != null && (victim == null || candidate.idleSince - victim.idleSince < 0)) {
                victim = candidate;
            }
        }
        if (victim != null && engine.claim(victim)) {
            engine.retirer.retire(victim, CloseReason.EVICTED);
            return true;
        }
        return false;
    }

    /**
     * Hands a released connection (owned by the caller) straight to the first waiter, so a
     * newcomer cannot take it; false if there is none, or the first wants a new connection.
     */
    boolean handOff(EndpointPool<C> ep, PooledEntry<C> e) {
        Waiter<C> w;
        while ((w = ep.waiters.peek()) != null) {
            if (w.fresh && w.isWaiting()) {
                return false;
            }
            if (w.offerEntry(e)) {
                left(ep);
                ep.waiters.remove(w);
                return true;
            }
            ep.waiters.remove(w);
        }
        return false;
    }

    /** Fails every waiter: the pool closed. */
    void failAll() {
        for (EndpointPool<C> ep : engine.endpointPools()) {
            Waiter<C> w;
            while ((w = ep.waiters.poll()) != null) {
                if (w.offerPoolClosed()) {
                    left(ep);
                }
            }
        }
    }
}
