package io.github.portkeeper.core.internal;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The limits: connections counted per endpoint ({@code maxPerEndpoint}) and in total
 * ({@code maxTotal}). A slot is reserved before a connect (so a slow connect never lets the pool
 * overshoot) and given back exactly once, when the connection stops counting (it retires, closes
 * or its connect fails). Lock-free: two CAS loops.
 */
final class Capacity<C> {

    private final PoolEngine<C> engine;
    /** Limits may change at run time (HttpClient's ConnPoolControl); they gate new reservations. */
    private volatile int maxPerEndpoint;
    private volatile int maxTotal;
    private final AtomicInteger total = new AtomicInteger();

    Capacity(PoolEngine<C> engine, int maxPerEndpoint, int maxTotal) {
        this.engine = engine;
        this.maxPerEndpoint = maxPerEndpoint;
        this.maxTotal = maxTotal;
    }

    /** Reserves a slot for a new connection of {@code ep}; false if a limit is reached. */
    boolean reserve(EndpointPool<C> ep) {
        for (;;) {
            int n = ep.allocated.get();
            if (n >= limit(ep) || n < 0) { // n < 0: the endpoint pool was removed
                return false;
            }
            if (ep.allocated.compareAndSet(n, n + 1)) {
                break;
            }
        }
        for (;;) {
            int t = total.get();
            if (t >= maxTotal) {
                ep.allocated.decrementAndGet();
                return false;
            }
            if (total.compareAndSet(t, t + 1)) {
                return true;
            }
        }
    }

    /** Gives a reserved slot back without waking anyone (the caller is the dispatcher itself). */
    void unreserveQuietly(EndpointPool<C> ep) {
        ep.allocated.decrementAndGet();
        total.decrementAndGet();
    }

    /** Gives a reserved slot back and lets waiters use it. */
    void unreserve(EndpointPool<C> ep) {
        unreserveQuietly(ep);
        engine.waiters.capacityFreed(ep);
    }

    /** Stops {@code e} counting against the limits (it is retiring or closed); exactly once. */
    void uncount(PooledEntry<C> e) {
        if (!e.uncounted) {
            e.uncounted = true;
            unreserve(e.pool);
        }
    }

    /** Whether {@code ep} is below its own limit (so only the total limit can block it). */
    boolean belowEndpointLimit(EndpointPool<C> ep) {
        return ep.allocated.get() < limit(ep);
    }

    /** The limit of {@code ep}: its own if set, else the default. */
    int limit(EndpointPool<C> ep) {
        int own = ep.maxOverride;
        return own > 0 ? own : maxPerEndpoint;
    }

    void setMaxPerEndpoint(int max) {
        maxPerEndpoint = max;
    }

    void setMaxTotal(int max) {
        maxTotal = max;
    }

    /**
     * Counts a connection moving into {@code to} from another endpoint (the total is unchanged);
     * false if {@code to} is at its limit.
     */
    boolean reserveMove(EndpointPool<C> to) {
        for (;;) {
            int n = to.allocated.get();
            if (n >= limit(to) || n < 0) { // n < 0: the endpoint pool was removed
                return false;
            }
            if (to.allocated.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    int total() {
        return total.get();
    }

    int maxPerEndpoint() {
        return maxPerEndpoint;
    }

    int maxTotal() {
        return maxTotal;
    }
}
