package io.github.portkeeper.core;

import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.core.testing.FakeTicker;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A pool's memory and meters follow its live endpoints: an endpoint with no connection, no
 * waiter and no recent TIME_WAIT of ours is forgotten, as HttpCore's pool purges empty route pools.
 */
class EndpointRemovalTest {

    private static final Duration MAX_IDLE = Duration.ofMinutes(1);
    /** Our own TIME_WAIT toward an endpoint is remembered (port budget) for 60 s after the close. */
    private static final Duration PAST_TIME_WAIT = Duration.ofSeconds(61);

    /** Counts only: a connector that kept every connection would itself hold what the pool let go. */
    private static final class CountingConnector implements Connector<Object> {
        final AtomicInteger opened = new AtomicInteger();
        final AtomicInteger disposed = new AtomicInteger();

        @Override
        public Object connect(Endpoint endpoint) {
            opened.incrementAndGet();
            return new Object();
        }

        @Override
        public void dispose(Object connection) {
            disposed.incrementAndGet();
        }
    }

    private final CountingConnector connector = new CountingConnector();
    private final FakeTicker ticker = new FakeTicker();
    private Pool<Object> pool;

    private Pool<Object> pool(int endpoints) {
        pool = Pool.of(connector, PoolConfig.builder().ticker(ticker).maxPerEndpoint(1).maxTotal(endpoints)
                .maxIdleTime(MAX_IDLE).housekeepingInterval(Duration.ofSeconds(1))
                .portBudget(PortBudget.disabled()).build()); // stub endpoints have no addresses to count ports toward
        return pool;
    }

    @AfterEach
    void tearDown() {
        if (pool != null) {
            pool.close();
        }
    }

    private static Endpoint endpoint(int i) {
        return Endpoint.of("host-" + i + ".example", 80);
    }

    private void leaseEachOnceThenIdlePastMaxIdleTime(int n) throws IOException {
        for (int i = 0; i < n; i++) {
            try (Lease<Object> lease = pool.lease(endpoint(i))) {
                lease.connection();
            }
        }
        assertThat(pool.endpoints()).hasSize(n);
        ticker.advance(MAX_IDLE.plusSeconds(1));
        pool.engine().maintain(); // the idle connections retire
        ticker.advance(PAST_TIME_WAIT);
        pool.engine().maintain(); // the endpoints, quiet now, are forgotten
    }

    @Test
    void hundredThousandEndpointsUsedOnceLeaveTheHeapWhereAFreshPoolHadIt() throws IOException {
        int n = 100_000;
        pool(n);
        long fresh = usedHeapAfterGc();
        for (int i = 0; i < n; i++) {
            try (Lease<Object> lease = pool.lease(endpoint(i))) {
                lease.connection();
            }
        }
        long holding = usedHeapAfterGc();
        ticker.advance(MAX_IDLE.plusSeconds(1));
        pool.engine().maintain();
        ticker.advance(PAST_TIME_WAIT);
        pool.engine().maintain();
        long after = usedHeapAfterGc();

        System.out.printf("[EndpointRemovalTest] heap used after GC: fresh pool %,d B, %,d endpoints idle %,d B, after they idled out %,d B%n",
                fresh, n, holding, after);
        assertThat(holding).as("the measurement sees the endpoints while they are live").isGreaterThan(fresh + fresh / 20);
        assertThat(pool.endpoints()).isEmpty();
        assertThat(pool.stats().idle()).isZero();
        assertThat(connector.disposed).hasValue(n);
        assertThat(after).as("retained heap within 5%% of the fresh pool's").isLessThanOrEqualTo(fresh + fresh / 20);
    }

    @Test
    void metersOfForgottenEndpointsAreRemoved() throws IOException {
        int n = 3_000;
        pool(n);
        MeterRegistry registry = new SimpleMeterRegistry();
        new PoolMetrics(pool).bindTo(registry);
        int fresh = registry.getMeters().size();

        leaseEachOnceThenIdlePastMaxIdleTime(n);

        System.out.printf("[EndpointRemovalTest] meters: fresh %d, after %d endpoints idled out %d%n", fresh, n, registry.getMeters().size());
        assertThat(pool.endpoints()).isEmpty();
        assertThat(registry.getMeters().size()).isLessThanOrEqualTo(fresh + Math.max(1, fresh / 20));

        try (Lease<Object> lease = pool.lease(endpoint(7))) {
            assertThat(lease.isReused()).isFalse();
        }
        assertThat(registry.find("portkeeper.connections.opened").tag("endpoint", endpoint(7).toString()).counter())
                .as("an endpoint that comes back is measured again").isNotNull();
    }

    @Test
    void anEndpointInUseIsNeverForgotten() throws IOException {
        pool(10);
        Lease<Object> held = pool.lease(endpoint(1));
        ticker.advance(MAX_IDLE.multipliedBy(10));
        pool.engine().maintain();
        assertThat(pool.endpoints()).containsExactly(endpoint(1));
        held.close();
        try (Lease<Object> again = pool.lease(endpoint(1))) {
            assertThat(again.isReused()).isTrue();
        }
    }

    @Test
    void announcedIdleTimeoutOutlivesTheEndpointsRemoval() throws IOException {
        pool(10);
        pool.hintIdleTimeout(endpoint(1), Duration.ofSeconds(30));
        try (Lease<Object> lease = pool.lease(endpoint(1))) {
            lease.connection();
        }
        ticker.advance(MAX_IDLE.plusSeconds(1));
        pool.engine().maintain();
        ticker.advance(PAST_TIME_WAIT);
        pool.engine().maintain();
        assertThat(pool.endpoints()).isEmpty();
        assertThat(pool.serverIdleTimeout(endpoint(1))).contains(Duration.ofSeconds(30));
    }

    /** Connections that never reached a peer: their closes leave no TIME_WAIT to remember. */
    private static Pool<Object> realTimePool(Duration maxIdle) {
        Connector<Object> noPeer = new Connector<>() {
            @Override
            public Object connect(Endpoint endpoint) {
                return new Object();
            }

            @Override
            public boolean wasEstablished(Object connection) {
                return false;
            }
        };
        return Pool.of(noPeer, PoolConfig.builder().name("removal-deadline").maxIdleTime(maxIdle)
                .housekeepingInterval(Duration.ofMillis(50)).portBudget(PortBudget.disabled()).build());
    }

    @Test
    void anEndpointEmptiedOnTheLeasePathIsForgottenByItsDeadlineWithNoOtherActivity() throws IOException {
        try (Pool<Object> p = realTimePool(Duration.ofMillis(300))) {
            try (Lease<Object> lease = p.lease(endpoint(1))) {
                lease.retire(); // closed as it is given back: the endpoint is empty from here on
            }
            assertThat(p.endpoints()).containsExactly(endpoint(1));
            // Nothing else happens in this pool: only a wake-up scheduled by the removal's own
            // deadline (maxIdleTime after it emptied) can forget the endpoint.
            await().atMost(Duration.ofSeconds(10)).until(() -> p.endpoints().isEmpty());
        }
    }

    @Test
    void anEndpointWhoseLastIdleConnectionExpiredIsForgottenByItsDeadlineWithNoOtherActivity() throws IOException {
        try (Pool<Object> p = realTimePool(Duration.ofMillis(300))) {
            try (Lease<Object> lease = p.lease(endpoint(1))) {
                lease.connection();
            }
            // The idle connection expires at maxIdleTime (a scheduled walk), then the endpoint,
            // empty from that close on, must be forgotten maxIdleTime later with no other call.
            await().atMost(Duration.ofSeconds(10)).until(() -> p.endpoints().isEmpty());
            assertThat(p.stats().idle()).isZero();
        }
    }

    @Test
    void listenersHearOfARemovalOffTheWatchersThread() throws IOException {
        try (Pool<Object> p = realTimePool(Duration.ofMillis(300))) {
            java.util.concurrent.atomic.AtomicReference<String> heardOn = new java.util.concurrent.atomic.AtomicReference<>();
            p.addListener(new PoolListener() {
                @Override
                public void endpointRemoved(Endpoint endpoint) {
                    heardOn.set(Thread.currentThread().getName());
                }
            });
            try (Lease<Object> lease = p.lease(endpoint(1))) {
                lease.retire();
            }
            // Forgotten by the shared watcher's walk; listeners are user code and never run on
            // that thread (a slow one would stall the watching of every pool).
            await().atMost(Duration.ofSeconds(10)).until(() -> heardOn.get() != null);
            assertThat(heardOn.get()).as("the thread that ran endpointRemoved").isNotEqualTo("portkeeper-watcher");
        }
    }

    private static long usedHeapAfterGc() {
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 4; i++) {
            System.gc();
            used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        }
        return used;
    }
}
