package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class PoolConcurrencyTest {

    private static final int THREADS = 32;
    private static final int CYCLES = 10_000;

    @Test
    void thirtyTwoThreadsLeasingAndReleasingNeverShareAConnectionAndLoseNothing() throws Exception {
        StubConnector connector = new StubConnector();
        Endpoint[] endpoints = {Endpoint.of("a", 1), Endpoint.of("b", 2), Endpoint.of("c", 3)};
        AtomicInteger doubleHeld = new AtomicInteger();
        AtomicInteger wrongEndpoint = new AtomicInteger();
        AtomicLong broken = new AtomicLong();
        try (Pool<StubConnection> pool = Pool.of(connector, PoolConfig.builder()
                .maxPerEndpoint(4).maxTotal(6).leaseTimeout(Duration.ofSeconds(60)).build())) {
            ExecutorService exec = Executors.newFixedThreadPool(THREADS);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                long seed = 42L + t;
                results.add(exec.submit(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    start.await();
                    int done = 0;
                    for (int i = 0; i < CYCLES; i++) {
                        Endpoint endpoint = endpoints[random.nextInt(endpoints.length)];
                        try (Lease<StubConnection> lease = pool.lease(endpoint)) {
                            StubConnection c = lease.connection();
                            if (c.holders.incrementAndGet() != 1) {
                                doubleHeld.incrementAndGet();
                            }
                            if (!c.endpoint.equals(endpoint)) {
                                wrongEndpoint.incrementAndGet();
                            }
                            if (c.disposed.get()) {
                                doubleHeld.incrementAndGet();
                            }
                            int r = random.nextInt(100);
                            if (r < 2) {
                                lease.markBroken();
                                broken.incrementAndGet();
                            } else if (r < 3) {
                                lease.retire();
                                broken.incrementAndGet();
                            }
                            c.holders.decrementAndGet();
                        }
                        done++;
                    }
                    return done;
                }));
            }
            start.countDown();
            long completed = 0;
            for (Future<Integer> f : results) {
                completed += f.get(5, TimeUnit.MINUTES);
            }
            exec.shutdown();

            assertThat(completed).as("no waiter lost: every cycle completed").isEqualTo((long) THREADS * CYCLES);
            assertThat(doubleHeld).as("no connection held by two leases").hasValue(0);
            assertThat(wrongEndpoint).hasValue(0);
            PoolStats stats = pool.stats();
            assertThat(stats.active()).isZero();
            assertThat(stats.pending()).isZero();
            assertThat(stats.idle()).isLessThanOrEqualTo(6);
            for (Endpoint e : endpoints) {
                assertThat(stats.endpoint(e).idle()).isLessThanOrEqualTo(4);
            }
            assertThat(pool.engine().totalAllocated()).as("counted connections = idle connections").isEqualTo(stats.idle());
            assertThat(connector.opened.size() - connector.disposedCount())
                    .as("open connections = idle connections").isEqualTo(stats.idle());
            assertThat(connector.disposedCount()).as("every broken or retired one was closed, plus evictions")
                    .isGreaterThanOrEqualTo(broken.get());
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> connector.disposedCount() == connector.opened.size());
    }
}
