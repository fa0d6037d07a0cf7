package io.github.portkeeper.core.testing;

import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import org.junit.jupiter.api.AfterEach;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The fixture of the engine tests that run a pool of stub connections on a fake clock: a
 * {@link StubConnector}, a {@link FakeTicker}, a {@link RecordingListener}, threads for the
 * callers a test runs in parallel, and the pool under test. After each test the threads are
 * stopped, the pool is closed and every connection it opened must be disposed of.
 */
public abstract class StubPoolTestBase {

    protected final StubConnector connector = new StubConnector();
    protected final FakeTicker ticker = new FakeTicker();
    protected final RecordingListener events = new RecordingListener();
    protected final ExecutorService threads = Executors.newCachedThreadPool();
    /** The pool under test, closed after the test; a test that builds its own assigns it here. */
    protected Pool<StubConnection> pool;

    /** Builds the pool under test from {@code config} with the fake clock, the recorder and no lifetime jitter. */
    protected Pool<StubConnection> pool(PoolConfig.Builder config) {
        pool = Pool.of(connector, config.ticker(ticker).listener(events).lifetimeJitter(Duration.ZERO).build());
        return pool;
    }

    @AfterEach
    void stopThreadsAndCloseThePool() throws InterruptedException {
        threads.shutdownNow();
        assertThat(threads.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        if (pool != null) {
            pool.close();
            await().atMost(Duration.ofSeconds(5)).until(() -> connector.disposedCount() == connector.opened.size());
        }
    }
}
