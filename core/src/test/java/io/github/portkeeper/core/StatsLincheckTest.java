package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Lincheck, model-checking strategy: what {@link Pool#stats()} (the {@code portkeeper.connections}
 * gauges) says while a lease is given back to another endpoint of the same host and port
 * ({@link Lease#moveTo}): the connection is counted once, never in both endpoints or in neither.
 *
 * <p>{@code active} means leased. A connection a lease call is taking or giving back may count
 * as active, so the bound per endpoint is the lease calls in flight during the read: those begun
 * by its end minus those finished by its start (a close that moves the connection is in flight
 * for both endpoints). Housekeeping's own claims are checked in {@code StatsWhileThePoolRetiresTest}.
 */
public class StatsLincheckTest {

    private static final Endpoint A = Endpoint.of("a.example", 80);
    private static final Endpoint A_ALICE = Endpoint.of("a.example", 80, "alice");
    private static final Endpoint[] ENDPOINTS = {A, A_ALICE};
    private static final Duration MAX_IDLE = Duration.ofSeconds(30);
    /** Thread ids: 0 for the part before, 1 and 2 for the two threads, 3 for the part after. */
    private static final int SLOTS = 4;

    private final StubConnector connector = new StubConnector();
    private final FakeTicker ticker = new FakeTicker();
    private final Pool<StubConnection> pool = Pool.of(connector, PoolConfig.builder()
            .maxPerEndpoint(1).maxTotal(1).ticker(ticker).lifetimeJitter(Duration.ZERO)
            .maxIdleTime(MAX_IDLE).housekeepingInterval(Duration.ofHours(1))
            .retirement(Retirement.reset()).portBudget(PortBudget.disabled()).build());
    private final AtomicReferenceArray<Lease<StubConnection>> held = new AtomicReferenceArray<>(SLOTS);
    /** Per endpoint: lease calls begun (a close moving a connection there counts as one). */
    private final AtomicIntegerArray begun = new AtomicIntegerArray(ENDPOINTS.length);
    /** Per endpoint: lease calls finished (failed, or leased and closed again). */
    private final AtomicIntegerArray finished = new AtomicIntegerArray(ENDPOINTS.length);

    @Operation
    public void lease(int thread, int endpoint) {
        if (held.get(thread) != null) {
            return;
        }
        begun.incrementAndGet(endpoint);
        try {
            held.set(thread, pool.lease(ENDPOINTS[endpoint], Duration.ZERO));
        } catch (IOException busy) {
            finished.incrementAndGet(endpoint); // none free without waiting: fine
        }
    }

    @Operation
    public void close(int thread) {
        Lease<StubConnection> lease = held.get(thread);
        if (lease != null) {
            held.set(thread, null);
            lease.close();
            finished.incrementAndGet(indexOf(lease.endpoint()));
        }
    }

    /** Gives the lease back to the other endpoint of the same host and port. */
    @Operation
    public void closeMovingToTheOtherEndpoint(int thread) {
        Lease<StubConnection> lease = held.get(thread);
        if (lease != null) {
            held.set(thread, null);
            int from = indexOf(lease.endpoint());
            int to = 1 - from;
            begun.incrementAndGet(to);
            lease.moveTo(ENDPOINTS[to]);
            lease.close();
            finished.incrementAndGet(from);
            finished.incrementAndGet(to);
        }
    }

    @Operation
    public void statsShowNoMoreActiveThanLeasesInFlight() {
        int[] finishedBefore = new int[ENDPOINTS.length];
        for (int i = 0; i < ENDPOINTS.length; i++) {
            finishedBefore[i] = finished.get(i);
        }
        PoolStats s = pool.stats();
        int bound = 0;
        for (int i = 0; i < ENDPOINTS.length; i++) {
            int inFlight = begun.get(i) - finishedBefore[i];
            bound += inFlight;
            if (s.endpoint(ENDPOINTS[i]).active() > inFlight) {
                throw new AssertionError(ENDPOINTS[i] + " shows " + s.endpoint(ENDPOINTS[i]).active()
                        + " active with at most " + inFlight + " lease calls in flight: " + s);
            }
        }
        if (s.active() > bound) {
            throw new AssertionError("the pool shows " + s.active() + " active with at most " + bound
                    + " lease calls in flight: " + s);
        }
    }

    /** For scenarios where one connection is open throughout and nothing retires it. */
    @Operation
    public void statsCountTheOneConnectionOnce() {
        PoolStats s = pool.stats();
        int counted = s.active() + s.idle() + s.draining();
        if (counted != 1) {
            throw new AssertionError("one connection open, counted " + counted + " times: " + s);
        }
    }

    private static int indexOf(Endpoint endpoint) {
        return endpoint.equals(A) ? 0 : 1;
    }

    private static void check(ExecutionScenario scenario) throws InterruptedException {
        ModelCheckingOptions options = EngineLincheckTest.explorationOf(0, 300).addCustomScenario(scenario);
        EngineLincheckTest.checkWithWatcherHeld(options, StatsLincheckTest.class);
    }

    @Test
    void aConnectionMovingToAnotherEndpointIsCountedOnceAndActiveOnlyWhileGivenBack() throws InterruptedException {
        check(new ExecutionScenario(List.of(op("lease", 0, 0)),
                List.of(List.of(op("closeMovingToTheOtherEndpoint", 0)),
                        List.of(op("statsCountTheOneConnectionOnce"), op("statsShowNoMoreActiveThanLeasesInFlight"),
                                op("statsCountTheOneConnectionOnce"))),
                List.of(op("statsCountTheOneConnectionOnce"), op("close", 0)), null));
    }

    private static Actor op(String name, Object... args) {
        Class<?>[] types = new Class<?>[args.length];
        java.util.Arrays.fill(types, int.class);
        try {
            return new Actor(StatsLincheckTest.class.getMethod(name, types), List.of(args));
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(name, e);
        }
    }
}
