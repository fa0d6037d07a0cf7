package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.Endpoint;
import org.apache.commons.pool2.BaseKeyedPooledObjectFactory;
import org.apache.commons.pool2.PooledObject;
import org.apache.commons.pool2.impl.DefaultPooledObject;
import org.apache.commons.pool2.impl.GenericKeyedObjectPool;
import org.apache.commons.pool2.impl.GenericKeyedObjectPoolConfig;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * commons-pool2's {@link GenericKeyedObjectPool}: LIFO, blocking when exhausted, no testing on
 * borrow, return or idle, no evictor (its default), no JMX registration.
 */
final class CommonsPool2BenchPool implements BenchPool {

    private final Endpoint[] endpoints;
    private final GenericKeyedObjectPool<Endpoint, StubConnection> pool;
    private final Factory factory = new Factory();

    CommonsPool2BenchPool(int endpointCount) {
        this.endpoints = Endpoints.of(endpointCount);
        GenericKeyedObjectPoolConfig<StubConnection> config = new GenericKeyedObjectPoolConfig<>();
        config.setMaxTotalPerKey(MAX_PER_ENDPOINT);
        config.setMaxIdlePerKey(MAX_PER_ENDPOINT);
        config.setMaxTotal(MAX_PER_ENDPOINT * endpointCount);
        config.setLifo(true);
        config.setBlockWhenExhausted(true);
        config.setMaxWait(Duration.ofSeconds(LEASE_TIMEOUT_SECONDS));
        config.setTestOnCreate(false);
        config.setTestOnBorrow(false);
        config.setTestOnReturn(false);
        config.setTestWhileIdle(false);
        config.setJmxEnabled(false);
        this.pool = new GenericKeyedObjectPool<>(factory, config);
    }

    @Override
    public Object lease(int endpoint) throws Exception {
        return pool.borrowObject(endpoints[endpoint]);
    }

    @Override
    public Object connection(Object handle) {
        return handle;
    }

    @Override
    public void release(int endpoint, Object handle) {
        pool.returnObject(endpoints[endpoint], (StubConnection) handle);
    }

    @Override
    public int connectionsOpened() {
        return factory.ids.get();
    }

    @Override
    public void close() {
        pool.close();
    }

    private static final class Factory extends BaseKeyedPooledObjectFactory<Endpoint, StubConnection> {

        private final AtomicInteger ids = new AtomicInteger();

        @Override
        public StubConnection create(Endpoint endpoint) {
            return new StubConnection(ids.incrementAndGet());
        }

        @Override
        public PooledObject<StubConnection> wrap(StubConnection connection) {
            return new DefaultPooledObject<>(connection);
        }
    }
}
