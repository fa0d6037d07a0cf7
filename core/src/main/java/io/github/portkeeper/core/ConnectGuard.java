package io.github.portkeeper.core;

import java.io.IOException;

/**
 * Decides whether the pool may open a new connection now: the hook for connection-storm
 * protection (a rate limit on new connections, a circuit breaker on failing connects). Called
 * on the leasing thread before every connect, outside any lock; it may block (a rate limiter
 * waiting for a permit) or throw to refuse.
 *
 * <p>Implementations must be thread-safe. See {@code io.github.portkeeper.core.resilience} for
 * Resilience4j-backed guards.
 */
public interface ConnectGuard {

    /** Throws (for example {@link CircuitOpenException}, {@link ConnectRateLimitedException}) to refuse the connect. */
    void beforeConnect(Endpoint endpoint) throws PoolException;

    /** The connect succeeded in {@code nanos}. */
    default void connectSucceeded(Endpoint endpoint, long nanos) {
    }

    /** The connect failed after {@code nanos}. */
    default void connectFailed(Endpoint endpoint, long nanos, IOException cause) {
    }

    /** No guard: every connect may proceed. */
    static ConnectGuard none() {
        return endpoint -> { };
    }
}
