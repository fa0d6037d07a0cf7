package io.github.portkeeper.core;

/**
 * The rate limit on new connections to the endpoint allowed no connect within its wait: the pool
 * refuses to open a storm of sockets at once (cold start, failover).
 */
public final class ConnectRateLimitedException extends PoolException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the refusal of a rate limit.
     *
     * @param endpoint the endpoint whose new connections are limited
     * @param detail   more about the limit (its name, its rate), or {@code null}
     * @param cause    the rate limiter's refusal, or {@code null}
     */
    public ConnectRateLimitedException(Endpoint endpoint, String detail, Throwable cause) {
        super(endpoint, "New connections to " + endpoint + " are rate limited; no permit within the wait"
                + (detail == null ? "" : " (" + detail + ")"), cause);
    }
}
