package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;
import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.util.LoggingLevel;
import org.junit.jupiter.api.Test;

import java.util.List;

/**
 * Lincheck, model-checking strategy, on one endpoint's observations of the server's idle
 * closes. They are recorded by the watcher's thread and by leasers that take a watched
 * connection back and find the server's FIN (no lock shared between them). Two observations
 * at once must both count: a sequential run learns the smaller. Unsynchronised, the second
 * writer could publish the minimum the first had computed before it: 2 s learned, not 1 s.
 */
public class IdleCloseObservationsLincheckTest {

    private static final long NOW = 1_000_000_000L;

    private final EndpointPool<Object> pool = new EndpointPool<>(null, Endpoint.of("server.example", 80));

    @Operation
    public void observeOneSecond() {
        pool.observeIdleClose(1_000_000_000L, NOW);
    }

    @Operation
    public void observeTwoSeconds() {
        pool.observeIdleClose(2_000_000_000L, NOW);
    }

    /** The learned timeout, as the lease path reads it. */
    @Operation
    public long learned() {
        return pool.serverIdleTimeoutNanos(NOW);
    }

    @Test
    void concurrentObservationsAreAllLearned() {
        new ModelCheckingOptions()
                .iterations(0)
                .invocationsPerIteration(500)
                .logLevel(LoggingLevel.ERROR)
                .invocationTimeout$lincheck(120_000)
                .addCustomScenario(new ExecutionScenario(List.of(),
                        List.of(List.of(op("observeOneSecond")), List.of(op("observeTwoSeconds"))),
                        List.of(op("learned")), null))
                .check(IdleCloseObservationsLincheckTest.class);
    }

    private static Actor op(String name) {
        try {
            return new Actor(IdleCloseObservationsLincheckTest.class.getMethod(name), List.of());
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(name, e);
        }
    }
}
