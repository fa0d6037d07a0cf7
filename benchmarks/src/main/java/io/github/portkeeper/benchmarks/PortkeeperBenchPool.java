package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/** Portkeeper's {@link Pool} with stub connections (no socket: nothing to watch). */
final class PortkeeperBenchPool implements BenchPool {

    private final Endpoint[] endpoints;
    private final Pool<StubConnection> pool;
    private final AtomicInteger ids = new AtomicInteger();

    PortkeeperBenchPool(int endpointCount) {
        this.endpoints = Endpoints.of(endpointCount);
        Connector<StubConnection> connector = endpoint -> new StubConnection(ids.incrementAndGet());
        this.pool = Pool.of(connector, PoolConfig.builder()
                .name("benchmark")
                .maxPerEndpoint(MAX_PER_ENDPOINT)
                .maxTotal(MAX_PER_ENDPOINT * endpointCount)
                .leaseTimeout(Duration.ofSeconds(LEASE_TIMEOUT_SECONDS))
                .build());
    }

    @Override
    public Object lease(int endpoint) throws Exception {
        return pool.lease(endpoints[endpoint]);
    }

    @Override
    public Object connection(Object handle) {
        return ((Lease<?>) handle).connection();
    }

    @Override
    public void release(int endpoint, Object handle) {
        ((Lease<?>) handle).close();
    }

    @Override
    public int connectionsOpened() {
        return ids.get();
    }

    @Override
    public void close() {
        pool.close();
    }
}
