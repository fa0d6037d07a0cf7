package io.github.portkeeper.core.internal;

import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.util.LoggingLevel;
import org.junit.jupiter.api.Test;

import java.util.List;

/**
 * Lincheck, model-checking strategy, on one endpoint's port accounting: the kernel's last count
 * saw {@link #OTHERS} sockets of other processes and none of ours. Whatever our connects do
 * meanwhile (a port taken and given back because the budget is spent; a connection opened and
 * closed again), no read of the usage may say fewer than {@link #OTHERS} others: a sequential
 * run never does. A reader that takes the open-socket count and the kernel-side count
 * at different instants of a concurrent take or close says one fewer, and a port-budget
 * exception then blames this pool for a port another process holds.
 */
public class PortUsageLincheckTest {

    private static final int OTHERS = 5;
    /** Spent by the others alone: every take is refused and given back. */
    private static final int SPENT = OTHERS;
    private static final int ROOMY = 100;

    private final PortUsage ports = new PortUsage();

    public PortUsageLincheckTest() {
        ports.refreshed(OTHERS, 0L);
    }

    /** A connect the spent budget refuses: the port is taken, the check fails, the port is given back. */
    @Operation
    public boolean refusedTake() {
        return ports.tryTake(SPENT, 0L);
    }

    /** A connection opened and closed again by the server's FIN (no TIME_WAIT of ours). */
    @Operation
    public boolean openAndClose() {
        if (!ports.tryTake(ROOMY, 0L)) {
            return false;
        }
        ports.connectDone();
        ports.closed(false, 0L);
        return true;
    }

    /**
     * Whether what a budget snapshot, the gauge or an exhausted exception reports as held by
     * others is at least what they hold (more, for a moment, is the budget's safe side).
     */
    @Operation
    public boolean othersNotUndercounted() {
        return ports.usage(SPENT, 0L).otherSockets() >= OTHERS;
    }

    @Test
    void noReadOfTheUsageUndercountsTheOthers() {
        new ModelCheckingOptions()
                .iterations(3)
                .invocationsPerIteration(200)
                .threads(2)
                .actorsPerThread(2)
                .actorsBefore(0)
                .actorsAfter(0)
                .logLevel(LoggingLevel.ERROR)
                .invocationTimeout$lincheck(120_000)
                .loopBound(200) // recentTimeWait's bounded walk of its 61 one-second buckets
                .addCustomScenario(scenario(List.of(op("refusedTake")), List.of(op("othersNotUndercounted"))))
                .addCustomScenario(scenario(List.of(op("openAndClose")), List.of(op("othersNotUndercounted"))))
                .check(PortUsageLincheckTest.class);
    }

    private static ExecutionScenario scenario(List<Actor> one, List<Actor> other) {
        return new ExecutionScenario(List.of(), List.of(one, other), List.of(), null);
    }

    private static Actor op(String name) {
        try {
            return new Actor(PortUsageLincheckTest.class.getMethod(name), List.of());
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(name, e);
        }
    }
}
