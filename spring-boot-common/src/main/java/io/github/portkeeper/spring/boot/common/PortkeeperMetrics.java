package io.github.portkeeper.spring.boot.common;

import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.util.Objects;

/**
 * Binds the meters of every pool in {@link PortkeeperPools} ({@code portkeeper.*}, see
 * docs/metrics.md) to the registries Spring Boot binds {@link MeterBinder}s to, including pools
 * registered later (the pool of an SSL bundle appears when its first client is built). Each pool
 * gets one {@link PoolMetrics} per registry.
 *
 * <p>Thread-safe.
 */
public final class PortkeeperMetrics implements MeterBinder {

    private final PortkeeperPools pools;
    private final boolean endpointTag;

    /**
     * @param pools       the pools to bind
     * @param endpointTag whether per-endpoint meters carry {@code endpoint=host:port}
     */
    public PortkeeperMetrics(PortkeeperPools pools, boolean endpointTag) {
        this.pools = Objects.requireNonNull(pools, "pools");
        this.endpointTag = endpointTag;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Objects.requireNonNull(registry, "registry");
        pools.forEachPool(pool -> PoolMetrics.builder(pool).endpointTag(endpointTag).build().bindTo(registry));
    }
}
