package io.github.portkeeper.rpc.micrometer;

import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.rpc.RpcClient;
import io.github.portkeeper.rpc.SocketClientPool;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.micrometer.tagged.TaggedCircuitBreakerMetrics;
import io.github.resilience4j.micrometer.tagged.TaggedRetryMetrics;
import io.github.resilience4j.retry.RetryRegistry;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.util.Objects;

/**
 * Binds an RPC client's meters: Portkeeper's pool meters ({@code portkeeper.*}, see
 * {@link PoolMetrics}) and, alongside them, Resilience4j's for its per-endpoint circuit breakers
 * ({@code resilience4j.circuitbreaker.*}, tag {@code name=<client>@<host:port>}, including breakers
 * created after binding; a breaker's meters go when the client drops it) and its retry ({@code resilience4j.retry.calls}, tag
 * {@code name=<client>}).
 *
 * <pre>{@code
 * RpcMetrics.bind(client, meterRegistry);
 * }</pre>
 *
 * <p>In its own class so that Micrometer and resilience4j-micrometer stay optional for the rpc
 * module. Bind each client once. Thread-safe.
 */
public final class RpcMetrics implements MeterBinder {

    private final Pool<?> pool;
    private final CircuitBreakerRegistry breakers;
    private final RetryRegistry retries;

    private RpcMetrics(Pool<?> pool, CircuitBreakerRegistry breakers, RetryRegistry retries) {
        this.pool = pool;
        this.breakers = breakers;
        this.retries = retries;
    }

    /**
     * The meters of {@code client}: its pool's, and those of its breakers and retry if it has any.
     *
     * @param client the client to measure
     * @return a binder; bind it to a registry once
     */
    public static RpcMetrics of(RpcClient<?, ?> client) {
        Objects.requireNonNull(client, "client");
        return new RpcMetrics(client.pool(), client.circuitBreakerRegistry().orElse(null), client.retryRegistry().orElse(null));
    }

    /**
     * The meters of {@code pool} (Portkeeper's pool meters only: it has no Resilience4j parts).
     *
     * @param pool the pool to measure
     * @return a binder; bind it to a registry once
     */
    public static RpcMetrics of(SocketClientPool<?> pool) {
        Objects.requireNonNull(pool, "pool");
        return new RpcMetrics(pool.pool(), null, null);
    }

    /**
     * Binds the meters of {@code client} to {@code registry}.
     *
     * @param client   the client to measure
     * @param registry where the meters are registered
     */
    public static void bind(RpcClient<?, ?> client, MeterRegistry registry) {
        of(client).bindTo(registry);
    }

    /**
     * Binds the meters of {@code pool} to {@code registry}.
     *
     * @param pool     the pool to measure
     * @param registry where the meters are registered
     */
    public static void bind(SocketClientPool<?> pool, MeterRegistry registry) {
        of(pool).bindTo(registry);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        new PoolMetrics(pool).bindTo(registry);
        if (breakers != null) {
            TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(breakers).bindTo(registry);
        }
        if (retries != null) {
            TaggedRetryMetrics.ofRetryRegistry(retries).bindTo(registry);
        }
    }
}
