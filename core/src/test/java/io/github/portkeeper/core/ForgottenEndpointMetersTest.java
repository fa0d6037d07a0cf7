package io.github.portkeeper.core;

import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.core.testing.FakeTicker;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.EnumSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The metrics binding drops an endpoint's meters when the pool forgets the endpoint; an endpoint
 * that comes back while that is under way must end up measured, never with meters the registry
 * no longer holds.
 */
class ForgottenEndpointMetersTest {

    private static final Endpoint A = Endpoint.of("a.example", 80);
    private static final Duration MAX_IDLE = Duration.ofMinutes(1);

    /** A real registry whose first removal waits for the test, to hold the binding mid-way through forgetting. */
    private static final class PausingRegistry extends SimpleMeterRegistry {
        final CountDownLatch removing = new CountDownLatch(1);
        final CountDownLatch proceed = new CountDownLatch(1);
        private final AtomicBoolean paused = new AtomicBoolean();

        @Override
        public Meter remove(Meter meter) {
            if (paused.compareAndSet(false, true)) {
                removing.countDown();
                try {
                    if (!proceed.await(30, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("the test never let the removal go on");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return super.remove(meter);
        }
    }

    private final FakeTicker ticker = new FakeTicker();
    private Pool<Object> pool;

    @AfterEach
    void tearDown() {
        if (pool != null) {
            pool.close();
        }
    }

    @Test
    void anEndpointLeasedAgainWhileItsMetersAreBeingDroppedKeepsRegisteredMeters() throws Exception {
        pool = Pool.of(endpoint -> new Object(), PoolConfig.builder().ticker(ticker).maxPerEndpoint(1).maxTotal(1)
                .maxIdleTime(MAX_IDLE).housekeepingInterval(Duration.ofHours(1))
                .portBudget(PortBudget.disabled()).build()); // a stub endpoint has no address to count ports toward
        PausingRegistry registry = new PausingRegistry();
        new PoolMetrics(pool).bindTo(registry);
        try (Lease<Object> lease = pool.lease(A)) {
            lease.connection();
        }
        ticker.advance(MAX_IDLE.plusSeconds(1));
        pool.engine().maintain(); // the idle connection retires
        ticker.advance(Duration.ofSeconds(61));

        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread forgetting = new Thread(() -> pool.engine().maintain(), "forgetting"); // removes A, tells the binding
        forgetting.setUncaughtExceptionHandler((t, e) -> failed.set(e));
        forgetting.start();
        assertThat(registry.removing.await(30, TimeUnit.SECONDS)).as("the binding started dropping A's meters").isTrue();
        assertThat(pool.endpoints()).doesNotContain(A);

        Thread leasing = new Thread(() -> {
            try (Lease<Object> lease = pool.lease(A)) {
                lease.connection();
            } catch (Exception e) {
                failed.set(e);
            }
        }, "leasing");
        leasing.start();
        // The lease either completes (its events reached the binding mid-removal) or waits for the
        // removal to finish; both are fine, as long as A ends up measured.
        await().atMost(Duration.ofSeconds(30)).until(() -> !leasing.isAlive()
                || EnumSet.of(Thread.State.BLOCKED, Thread.State.WAITING).contains(leasing.getState()));
        registry.proceed.countDown();
        forgetting.join(30_000);
        leasing.join(30_000);
        assertThat(failed.get()).isNull();
        assertThat(forgetting.isAlive() || leasing.isAlive()).isFalse();

        assertThat(pool.endpoints()).containsExactly(A);
        Counter opened = registry.find("portkeeper.connections.opened").tag("endpoint", A.toString()).counter();
        assertThat(opened).as("A's opened counter is in the registry").isNotNull();
        Gauge idle = registry.find("portkeeper.connections").tag("endpoint", A.toString()).tag("state", "idle").gauge();
        assertThat(idle).as("A's state gauge is in the registry").isNotNull();
        assertThat(idle.value()).isEqualTo(1.0);

        try (Lease<Object> lease = pool.lease(A)) {
            assertThat(lease.isReused()).isTrue();
        }
        Counter reused = registry.find("portkeeper.leases").tag("endpoint", A.toString()).tag("outcome", "reused").counter();
        assertThat(reused).as("A's lease counter is in the registry").isNotNull();
        assertThat(reused.count()).as("the lease after A came back is counted").isEqualTo(1.0);
    }
}
