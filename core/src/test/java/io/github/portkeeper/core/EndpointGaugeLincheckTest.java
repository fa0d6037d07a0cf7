package io.github.portkeeper.core;

import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Lincheck, model-checking strategy: the per-endpoint {@code portkeeper.connections} gauge of a
 * tag value that two endpoints share (same host and port, another qualifier) while a connection
 * moves between them ({@link Lease#moveTo}): one reading counts the one connection at most once,
 * as {@link Pool#stats()} does, never in both endpoints.
 */
public class EndpointGaugeLincheckTest {

    private static final Endpoint A = Endpoint.of("a.example", 80);
    private static final Endpoint A_ALICE = Endpoint.of("a.example", 80, "alice");
    private static final Endpoint[] ENDPOINTS = {A, A_ALICE};
    private static final int SLOTS = 4;

    private final Pool<StubConnection> pool = Pool.of(new StubConnector(), PoolConfig.builder()
            .maxPerEndpoint(1).maxTotal(1).ticker(new FakeTicker()).lifetimeJitter(Duration.ZERO)
            .maxIdleTime(Duration.ofSeconds(30)).housekeepingInterval(Duration.ofHours(1))
            .retirement(Retirement.reset()).portBudget(PortBudget.disabled()).build());
    private final AtomicReferenceArray<Lease<StubConnection>> held = new AtomicReferenceArray<>(SLOTS);
    private final Gauge idle;
    private final Gauge active;

    public EndpointGaugeLincheckTest() throws IOException {
        MeterRegistry registry = new SimpleMeterRegistry();
        new PoolMetrics(pool).bindTo(registry);
        // The one connection, idle at A; its lease registered the gauges of the tag A and A_ALICE share.
        pool.lease(A, Duration.ZERO).close();
        idle = gauge(registry, "idle");
        active = gauge(registry, "active");
    }

    private static Gauge gauge(MeterRegistry registry, String state) {
        return Objects.requireNonNull(registry.find("portkeeper.connections")
                .tags("endpoint", A.toString(), "state", state).gauge(), state);
    }

    @Operation
    public void lease(int thread, int endpoint) {
        if (held.get(thread) != null) {
            return;
        }
        try {
            held.set(thread, pool.lease(ENDPOINTS[endpoint], Duration.ZERO));
        } catch (IOException busy) {
            // none free without waiting: fine
        }
    }

    /** Gives the lease back to the other endpoint of the same host and port. */
    @Operation
    public void closeMovingToTheOtherEndpoint(int thread) {
        Lease<StubConnection> lease = held.get(thread);
        if (lease != null) {
            held.set(thread, null);
            lease.moveTo(lease.endpoint().equals(A) ? A_ALICE : A);
            lease.close();
        }
    }

    @Operation
    public void gaugesCountTheOneConnectionAtMostOnce() {
        double idleNow = idle.value();
        if (idleNow > 1) {
            throw new AssertionError("one connection, the idle gauge shows " + idleNow);
        }
        double activeNow = active.value();
        if (activeNow > 1) {
            throw new AssertionError("one connection, the active gauge shows " + activeNow);
        }
    }

    @Test
    void aConnectionMovingBetweenEndpointsThatShareATagIsCountedAtMostOnceByOneGaugeReading() throws InterruptedException {
        ExecutionScenario scenario = new ExecutionScenario(List.of(),
                List.of(List.of(op("lease", 1, 0), op("closeMovingToTheOtherEndpoint", 1),
                                op("lease", 1, 1), op("closeMovingToTheOtherEndpoint", 1)),
                        List.of(op("gaugesCountTheOneConnectionAtMostOnce"), op("gaugesCountTheOneConnectionAtMostOnce"))),
                List.of(op("gaugesCountTheOneConnectionAtMostOnce")), null);
        ModelCheckingOptions options = EngineLincheckTest.explorationOf(0, 300).addCustomScenario(scenario);
        EngineLincheckTest.checkWithWatcherHeld(options, EndpointGaugeLincheckTest.class);
    }

    private static Actor op(String name, Object... args) {
        Class<?>[] types = new Class<?>[args.length];
        java.util.Arrays.fill(types, int.class);
        try {
            return new Actor(EndpointGaugeLincheckTest.class.getMethod(name, types), List.of(args));
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(name, e);
        }
    }
}
