package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Ending;
import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.datastructures.ManagedStrategyGuaranteeKt;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.util.LoggingLevel;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Lincheck, model-checking strategy, on one endpoint's port accounting: the kernel's last count
 * saw {@link #OTHERS} sockets of other processes and none of ours. Whatever our connects do
 * meanwhile (a port taken and given back because the budget is spent; a connection opened and
 * closed again), no read of the usage may say fewer than {@link #OTHERS} others: a sequential
 * run never does. A reader that takes the open-socket count and the kernel-side count
 * at different instants of a concurrent take or close says one fewer, and a port-budget
 * exception then blames this pool for a port another process holds.
 *
 * <p>The kernel is modelled too: {@link #inKernel} is our sockets in its table (a connect adds
 * one, a reset removes it at once), and {@link #kernelRead} is the JVM's reader counting that
 * table (the others plus ours in it) between its mark and its refresh. A close by reset is
 * accounted for after the socket left the table; a read in between must not make the count of
 * others too low, then or after.
 */
public class PortUsageLincheckTest {

    private static final int OTHERS = 5;
    /** Spent by the others alone: every take is refused and given back. */
    private static final int SPENT = OTHERS;
    private static final int ROOMY = 100;

    private final PortUsage ports = new PortUsage();
    /** Our sockets in the kernel's table. */
    private final AtomicInteger inKernel = new AtomicInteger();

    public PortUsageLincheckTest() {
        ports.refreshed(OTHERS, 0L);
    }

    /** A connect the spent budget refuses: the port is taken, the check fails, the port is given back. */
    @Operation
    public boolean refusedTake() {
        return ports.tryTake(SPENT, 0L);
    }

    /**
     * A connection opened and closed again without a TIME_WAIT of ours, as the pool resets one: the
     * socket leaves the kernel's table at the close, before the pool accounts for it.
     */
    @Operation
    public boolean openAndClose() {
        if (!ports.tryTake(ROOMY, 0L)) {
            return false;
        }
        inKernel.incrementAndGet();
        ports.connectDone();
        long ticket = ports.closing();
        inKernel.decrementAndGet();
        ports.closed(Ending.RESET, 0L, ticket);
        return true;
    }

    /** One read of the kernel's table by the JVM's reader, as {@code KernelTableCount} takes it. */
    @Operation
    public void kernelRead() {
        ports.readLock.lock();
        try {
            long mark = ports.markBeforeRefresh();
            ports.refreshed(OTHERS + inKernel.get(), mark);
        } finally {
            ports.readLock.unlock();
        }
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
                // That walk holds the monitor every change takes: one step, not 122 places to switch
                // that hide the few that matter from the exploration.
                .addGuarantee(ManagedStrategyGuaranteeKt.forClasses(PortUsage.class.getName())
                        .methods("recentTimeWait").treatAsAtomic())
                .addCustomScenario(scenario(List.of(op("refusedTake")), List.of(op("othersNotUndercounted"))))
                .addCustomScenario(scenario(List.of(op("openAndClose")), List.of(op("othersNotUndercounted"))))
                .addCustomScenario(scenario(List.of(op("openAndClose")), List.of(op("kernelRead"), op("othersNotUndercounted"))))
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
