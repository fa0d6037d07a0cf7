package io.github.portkeeper.core;

import java.io.IOException;

/**
 * Decides whether the pool may open a new connection now: the hook for connection-storm
 * protection (a rate limit on new connections, a circuit breaker on failing connects). Called
 * on the leasing thread before every connect, outside any lock; it may block (a rate limiter
 * waiting for a permit) or throw to refuse.
 *
 * <p>For the HTTP connection manager the connect is HttpClient's: its connection operator
 * connects, and handshakes TLS, right after the lease. {@link #beforeConnect} runs at the lease,
 * before that; the outcome ({@link #connectSucceeded}, {@link #connectFailed} or
 * {@link #connectAbandoned}) is heard when the operator is done, and covers the TCP connect and
 * the TLS handshake: a refused connect, a connect timeout or a failed handshake is a failure, a
 * request cancelled (or a manager closed) while it connects is an abandoned connect.
 *
 * <p>Implementations must be thread-safe. See {@code io.github.portkeeper.core.resilience} for
 * Resilience4j-backed guards.
 */
public interface ConnectGuard {

    /**
     * Called before every connect; returns to allow it, throws to refuse it. May block (a rate
     * limiter waiting for a permit): the lease waits with it.
     *
     * @param endpoint where the pool is about to connect
     * @throws PoolException to refuse the connect (for example {@link CircuitOpenException},
     *         {@link ConnectRateLimitedException}); the lease fails with it
     */
    void beforeConnect(Endpoint endpoint) throws PoolException;

    /**
     * The connect allowed by {@link #beforeConnect} succeeded.
     *
     * <p>Should not throw. If it does (a {@code RuntimeException} or an {@link Error}), the pool
     * does not take the fresh connection into service: it resets it at once (no TIME_WAIT; it
     * served nothing), records it closed, gives back its slot and port, and fails the lease with
     * the exception unchanged, as a refusal from {@code beforeConnect} is. This guard hears
     * nothing more of that connect.
     *
     * @param endpoint where the pool connected
     * @param nanos    how long the connect took, in nanoseconds
     */
    default void connectSucceeded(Endpoint endpoint, long nanos) {
    }

    /**
     * The connect allowed by {@link #beforeConnect} failed.
     *
     * @param endpoint where the pool tried to connect
     * @param nanos    how long it tried, in nanoseconds
     * @param cause    the connector's exception
     */
    default void connectFailed(Endpoint endpoint, long nanos, IOException cause) {
    }

    /**
     * The connect allowed by {@link #beforeConnect} did not happen, or was cut short by its
     * caller (the lease's thread was interrupted, or the pool closed meanwhile), or the
     * connector threw an {@link Error} (a bug in code, which says nothing of the endpoint), or
     * the connect succeeded but the connector's {@link Connector#channel} then threw (the same):
     * neither a success nor a failure of the endpoint. A guard that handed out a permission for the
     * connect (a half-open circuit breaker's trial call) gives it back here.
     *
     * @param endpoint where the pool was to connect
     */
    default void connectAbandoned(Endpoint endpoint) {
    }

    /**
     * No guard: every connect may proceed.
     *
     * @return a guard that allows everything and records nothing
     */
    static ConnectGuard none() {
        return endpoint -> { };
    }
}
