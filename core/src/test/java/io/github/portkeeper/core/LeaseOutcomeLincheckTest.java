package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.ThreadIdGen;
import org.jetbrains.lincheck.datastructures.Validate;
import org.jetbrains.lincheck.util.LoggingLevel;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Lincheck, model-checking strategy: every lease call ends in exactly one listener outcome
 * (leased, timed out or rejected), whichever thread runs the hand-off. The connector's
 * validation throws for the first connection, so a lease that meets it while serving a waiter
 * (the waiter goes on and opens a new one) must not report a rejection nobody received.
 */
public class LeaseOutcomeLincheckTest {

    private static final Endpoint A = Endpoint.of("a.example", 80);
    private static final int SLOTS = 4;

    private final AtomicInteger calls = new AtomicInteger();
    private final AtomicInteger outcomes = new AtomicInteger();
    private final StubConnector connector = new StubConnector();
    private final Pool<StubConnection> pool;
    private final AtomicReferenceArray<Lease<StubConnection>> held = new AtomicReferenceArray<>(SLOTS);

    public LeaseOutcomeLincheckTest() {
        connector.validator = c -> {
            if (c.id == 1) {
                throw new IllegalStateException("validation of the first connection throws");
            }
            return true;
        };
        PoolListener outcomeCounter = new PoolListener() {
            @Override
            public void leased(Endpoint endpoint, boolean reused, long waitNanos) {
                outcomes.incrementAndGet();
            }

            @Override
            public void leaseTimedOut(Endpoint endpoint, long waitNanos) {
                outcomes.incrementAndGet();
            }

            @Override
            public void leaseRejected(Endpoint endpoint, Throwable reason) {
                outcomes.incrementAndGet();
            }
        };
        pool = Pool.of(connector, PoolConfig.builder()
                .maxPerEndpoint(1).maxTotal(1).ticker(new FakeTicker()).lifetimeJitter(Duration.ZERO)
                .housekeepingInterval(Duration.ofHours(1)).retirement(Retirement.reset())
                .portBudget(PortBudget.disabled()).listener(outcomeCounter).build());
    }

    @Operation
    public void lease(@Param(gen = ThreadIdGen.class) int thread) {
        if (held.get(thread) != null) {
            return;
        }
        calls.incrementAndGet();
        try {
            held.set(thread, pool.lease(A, Duration.ZERO));
        } catch (IOException busyOrRejected) {
            // a timeout or the validation's rejection: one outcome either way
        }
    }

    @Operation
    public void close(@Param(gen = ThreadIdGen.class) int thread) {
        Lease<StubConnection> lease = held.get(thread);
        if (lease != null) {
            held.set(thread, null);
            lease.close();
        }
    }

    @Validate
    public void oneOutcomePerLeaseCall() {
        if (outcomes.get() != calls.get()) {
            throw new AssertionError(calls.get() + " lease calls but " + outcomes.get() + " lease outcomes reported");
        }
    }

    @Test
    void everyLeaseCallReportsExactlyOneOutcomeEvenWhenValidationThrowsWhileAWaiterIsServed()
            throws InterruptedException {
        ModelCheckingOptions options = EngineLincheckTest.explorationOf(0, 300)
                // The first connection is held; a lease queues for it while its holder gives it back.
                .addCustomScenario(new ExecutionScenario(List.of(op("lease", 0)),
                        List.of(List.of(op("lease", 1)), List.of(op("close", 0))),
                        List.of(op("close", 0), op("close", 1)), null));
        EngineLincheckTest.checkWithWatcherHeld(options, LeaseOutcomeLincheckTest.class);
    }

    private static Actor op(String name, Object... args) {
        try {
            return new Actor(LeaseOutcomeLincheckTest.class.getMethod(name, int.class), List.of(args));
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(name, e);
        }
    }
}
