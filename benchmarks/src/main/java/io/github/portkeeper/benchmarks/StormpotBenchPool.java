package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.Endpoint;
import stormpot.Allocator;
import stormpot.BasePoolable;
import stormpot.Pool;
import stormpot.Slot;
import stormpot.Timeout;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Stormpot 3's {@link Pool} (its default, BlazePool with a background allocator). Stormpot
 * pools are not keyed, so each endpoint gets its own pool of {@value #MAX_PER_ENDPOINT}
 * objects, found by the endpoint in a map (key hashing costs as much as in the keyed pools).
 * Stormpot's default expiration (8 to 10 minutes) never fires within a trial; no validation.
 *
 * <p>Unlike the other adapters, the reuse order is not LIFO and cannot be made so: a claim
 * first tries the slot the same thread claimed last (a per-thread cache), then the oldest in a
 * shared FIFO queue. And the background allocator fills every pool to its size up front, so
 * {@link #connectionsOpened()} is always {@value #MAX_PER_ENDPOINT} × endpoints and does not
 * show reuse.
 */
final class StormpotBenchPool implements BenchPool {

    private static final Timeout TIMEOUT = new Timeout(LEASE_TIMEOUT_SECONDS, TimeUnit.SECONDS);

    private final Endpoint[] endpoints;
    private final Map<Endpoint, Pool<Pooled>> pools = new HashMap<>();
    private final AtomicInteger ids = new AtomicInteger();

    StormpotBenchPool(int endpointCount) {
        this.endpoints = Endpoints.of(endpointCount);
        Allocator<Pooled> allocator = new Allocator<>() {
            @Override
            public Pooled allocate(Slot slot) {
                return new Pooled(slot, new StubConnection(ids.incrementAndGet()));
            }

            @Override
            public void deallocate(Pooled pooled) {
            }
        };
        for (Endpoint endpoint : endpoints) {
            pools.put(endpoint, Pool.from(allocator).setSize(MAX_PER_ENDPOINT).build());
        }
    }

    @Override
    public Object lease(int endpoint) throws Exception {
        return pools.get(endpoints[endpoint]).claim(TIMEOUT);
    }

    @Override
    public Object connection(Object handle) {
        return ((Pooled) handle).connection;
    }

    @Override
    public void release(int endpoint, Object handle) {
        ((Pooled) handle).release();
    }

    @Override
    public int connectionsOpened() {
        return ids.get();
    }

    @Override
    public void close() throws InterruptedException {
        for (Pool<Pooled> pool : pools.values()) {
            pool.shutdown().await(TIMEOUT);
        }
    }

    /** Stormpot's poolable: the slot to release into, and the stub connection. */
    static final class Pooled extends BasePoolable {

        final StubConnection connection;

        Pooled(Slot slot, StubConnection connection) {
            super(slot);
            this.connection = connection;
        }
    }
}
