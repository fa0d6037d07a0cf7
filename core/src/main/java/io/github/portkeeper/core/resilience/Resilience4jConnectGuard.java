package io.github.portkeeper.core.resilience;

import io.github.portkeeper.core.CircuitOpenException;
import io.github.portkeeper.core.ConnectGuard;
import io.github.portkeeper.core.ConnectRateLimitedException;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.PoolException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.ratelimiter.RateLimiter;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.RateLimiterRegistry;

import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Connection-storm protection with Resilience4j, per endpoint: a {@link RateLimiter} on new
 * connections (a cold start or a failover must not open thousands of sockets at once) and a
 * {@link CircuitBreaker} on connect failures (fail fast while a server is down, probe it again
 * later). Either may be left out.
 *
 * <pre>{@code
 * Resilience4jConnectGuard guard = Resilience4jConnectGuard.builder()
 *         .rateLimiter(RateLimiterConfig.custom().limitForPeriod(50).limitRefreshPeriod(Duration.ofSeconds(1))
 *                 .timeoutDuration(Duration.ofSeconds(2)).build())
 *         .circuitBreaker(CircuitBreakerConfig.custom().minimumNumberOfCalls(5).build())
 *         .build();
 * PoolConfig.builder().connectGuard(guard)...
 * // metrics: TaggedRateLimiterMetrics.ofRateLimiterRegistry(guard.rateLimiters()).bindTo(registry) etc.
 * }</pre>
 *
 * <p>Limiters and breakers are named {@code portkeeper-<host:port>}. Thread-safe.
 */
public final class Resilience4jConnectGuard implements ConnectGuard {

    private final RateLimiterRegistry rateLimiters;
    private final CircuitBreakerRegistry circuitBreakers;

    private Resilience4jConnectGuard(Builder b) {
        this.rateLimiters = b.rateLimiter != null ? RateLimiterRegistry.of(b.rateLimiter) : null;
        this.circuitBreakers = b.circuitBreaker != null ? CircuitBreakerRegistry.of(b.circuitBreaker) : null;
    }

    /**
     * A builder; give it a rate limiter, a circuit breaker or both.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The per-endpoint rate limiters, for Resilience4j's Micrometer binding.
     *
     * @return the registry, or {@code null} if no rate limiter is configured
     */
    public RateLimiterRegistry rateLimiters() {
        return rateLimiters;
    }

    /**
     * The per-endpoint circuit breakers, for Resilience4j's Micrometer binding.
     *
     * @return the registry, or {@code null} if no circuit breaker is configured
     */
    public CircuitBreakerRegistry circuitBreakers() {
        return circuitBreakers;
    }

    @Override
    public void beforeConnect(Endpoint endpoint) throws PoolException {
        String name = name(endpoint);
        if (circuitBreakers != null) {
            CircuitBreaker breaker = circuitBreakers.circuitBreaker(name);
            if (!breaker.tryAcquirePermission()) {
                throw new CircuitOpenException(endpoint, "state " + breaker.getState() + ", failure rate "
                        + breaker.getMetrics().getFailureRate() + "%", null);
            }
        }
        if (rateLimiters != null) {
            RateLimiter limiter = rateLimiters.rateLimiter(name);
            if (!limiter.acquirePermission()) {
                if (circuitBreakers != null) {
                    // The breaker's permission was taken for a call that will not happen.
                    circuitBreakers.circuitBreaker(name).releasePermission();
                }
                throw new ConnectRateLimitedException(endpoint, "limit " + limiter.getRateLimiterConfig().getLimitForPeriod()
                        + " per " + limiter.getRateLimiterConfig().getLimitRefreshPeriod(), null);
            }
        }
    }

    @Override
    public void connectSucceeded(Endpoint endpoint, long nanos) {
        if (circuitBreakers != null) {
            circuitBreakers.circuitBreaker(name(endpoint)).onSuccess(nanos, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public void connectFailed(Endpoint endpoint, long nanos, IOException cause) {
        if (circuitBreakers != null) {
            circuitBreakers.circuitBreaker(name(endpoint)).onError(nanos, TimeUnit.NANOSECONDS, cause);
        }
    }

    /** Gives back the breaker's permission: a half-open breaker's trial call is not used up by a cancelled connect. */
    @Override
    public void connectAbandoned(Endpoint endpoint) {
        if (circuitBreakers != null) {
            circuitBreakers.circuitBreaker(name(endpoint)).releasePermission();
        }
    }

    private static String name(Endpoint endpoint) {
        return "portkeeper-" + endpoint;
    }

    /** Builds a {@link Resilience4jConnectGuard}. Not thread-safe. */
    public static final class Builder {

        private RateLimiterConfig rateLimiter;
        private CircuitBreakerConfig circuitBreaker;

        private Builder() {
        }

        /**
         * Limits new connections per endpoint; {@code timeoutDuration} is how long a connect may
         * wait for a permit (the lease waits with it).
         *
         * @param config the limit of every endpoint's limiter; not {@code null}
         * @return this builder
         * @throws NullPointerException if {@code config} is {@code null} (the message names
         *         {@code rateLimiter})
         */
        public Builder rateLimiter(RateLimiterConfig config) {
            this.rateLimiter = Objects.requireNonNull(config, "rateLimiter");
            return this;
        }

        /**
         * Opens per endpoint on connect failures; while open, leases needing a new connection fail
         * fast with a {@link CircuitOpenException}.
         *
         * @param config the settings of every endpoint's breaker; not {@code null}
         * @return this builder
         * @throws NullPointerException if {@code config} is {@code null} (the message names
         *         {@code circuitBreaker})
         */
        public Builder circuitBreaker(CircuitBreakerConfig config) {
            this.circuitBreaker = Objects.requireNonNull(config, "circuitBreaker");
            return this;
        }

        /**
         * Builds the guard.
         *
         * @return the guard, for {@code PoolConfig.Builder.connectGuard}
         * @throws IllegalArgumentException if neither a rate limiter nor a circuit breaker was given
         */
        public Resilience4jConnectGuard build() {
            if (rateLimiter == null && circuitBreaker == null) {
                throw new IllegalArgumentException("Resilience4jConnectGuard needs a rateLimiter or a circuitBreaker config, but has neither");
            }
            return new Resilience4jConnectGuard(this);
        }
    }
}
