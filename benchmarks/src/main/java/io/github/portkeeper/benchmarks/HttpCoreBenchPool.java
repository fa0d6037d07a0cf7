package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.Endpoint;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.pool.DisposalCallback;
import org.apache.hc.core5.pool.LaxConnPool;
import org.apache.hc.core5.pool.ManagedConnPool;
import org.apache.hc.core5.pool.PoolEntry;
import org.apache.hc.core5.pool.PoolReusePolicy;
import org.apache.hc.core5.pool.RouteSegmentedConnPool;
import org.apache.hc.core5.pool.StrictConnPool;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One of HttpCore5's pools, used the way HttpClient's connection manager uses it: lease a
 * {@link PoolEntry} through a future, assign a connection to an entry that has none, release it
 * as reusable. The three pools are what {@code PoolConcurrencyPolicy} STRICT, LAX and OFFLOCK
 * select.
 */
final class HttpCoreBenchPool implements BenchPool {

    private static final Timeout LEASE_TIMEOUT = Timeout.ofSeconds(LEASE_TIMEOUT_SECONDS);
    /** Connections never expire (HttpClient's default time to live). */
    private static final TimeValue TIME_TO_LIVE = TimeValue.NEG_ONE_MILLISECOND;
    private static final DisposalCallback<StubConnection> DISPOSAL = StubConnection::close;

    private final Endpoint[] endpoints;
    private final ManagedConnPool<Endpoint, StubConnection> pool;
    private final AtomicInteger ids = new AtomicInteger();

    private HttpCoreBenchPool(Endpoint[] endpoints, ManagedConnPool<Endpoint, StubConnection> pool) {
        this.endpoints = endpoints;
        this.pool = pool;
    }

    /** {@code StrictConnPool}: one global lock, strict per-route and total limits. */
    static HttpCoreBenchPool strict(int endpointCount) {
        return new HttpCoreBenchPool(Endpoints.of(endpointCount), new StrictConnPool<>(
                MAX_PER_ENDPOINT, MAX_PER_ENDPOINT * endpointCount, TIME_TO_LIVE, PoolReusePolicy.LIFO, DISPOSAL, null));
    }

    /** {@code LaxConnPool}: per-route locking, the total limit enforced loosely. */
    static HttpCoreBenchPool lax(int endpointCount) {
        LaxConnPool<Endpoint, StubConnection> pool = new LaxConnPool<>(
                MAX_PER_ENDPOINT, TIME_TO_LIVE, PoolReusePolicy.LIFO, DISPOSAL, null);
        pool.setMaxTotal(MAX_PER_ENDPOINT * endpointCount);
        return new HttpCoreBenchPool(Endpoints.of(endpointCount), pool);
    }

    /** {@code RouteSegmentedConnPool} (5.4, experimental): the OFFLOCK policy's lock-free pool. */
    static HttpCoreBenchPool offlock(int endpointCount) {
        return new HttpCoreBenchPool(Endpoints.of(endpointCount), new RouteSegmentedConnPool<>(
                MAX_PER_ENDPOINT, MAX_PER_ENDPOINT * endpointCount, TIME_TO_LIVE, PoolReusePolicy.LIFO, DISPOSAL));
    }

    @Override
    public Object lease(int endpoint) throws Exception {
        PoolEntry<Endpoint, StubConnection> entry = pool.lease(endpoints[endpoint], null, LEASE_TIMEOUT, null)
                .get(LEASE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        if (!entry.hasConnection()) {
            entry.assignConnection(new StubConnection(ids.incrementAndGet()));
        }
        return entry;
    }

    @Override
    public Object connection(Object handle) {
        return ((PoolEntry<?, ?>) handle).getConnection();
    }

    @Override
    @SuppressWarnings("unchecked")
    public void release(int endpoint, Object handle) {
        pool.release((PoolEntry<Endpoint, StubConnection>) handle, true);
    }

    @Override
    public int connectionsOpened() {
        return ids.get();
    }

    @Override
    public void close() {
        pool.close(CloseMode.IMMEDIATE);
    }
}
