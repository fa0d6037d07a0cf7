package io.github.portkeeper.core.internal;

import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.util.LoggingLevel;
import org.junit.jupiter.api.Test;

import java.util.List;

/**
 * Lincheck, model-checking strategy, on the first kernel count of an endpoint racing a connect
 * that gave up waiting for it. The kernel reader marks, reads the table and refreshes under the
 * endpoint's read lock; the connect that waited in vain counts ours only ("the kernel says 0")
 * if no count arrived. In either order, run one after the other, the kernel's count survives;
 * a give-up that checks "no count yet", then writes 0 after the reader's refresh landed,
 * erases it, and the port budget then sees none of the other process's sockets until the
 * next read.
 */
public class KernelCountFallbackLincheckTest {

    private static final int OTHERS = 7;

    private final PortUsage ports = new PortUsage();

    /** The kernel reader's first count of the endpoint: {@link #OTHERS} sockets of other processes. */
    @Operation
    public void kernelRead() {
        ports.readLock.lock();
        try {
            long mark = ports.markBeforeRefresh();
            ports.refreshed(OTHERS, mark);
        } finally {
            ports.readLock.unlock();
        }
    }

    /** A connect whose wait for the first count timed out. */
    @Operation
    public void connectGaveUpWaiting() {
        ports.countOursOnlyIfUnread();
    }

    /** What the budget sees as other processes' sockets once both are done. */
    @Operation
    public int others() {
        return ports.usage(100, 0L).otherSockets();
    }

    @Test
    void aConnectThatGaveUpNeverErasesTheKernelsCount() {
        new ModelCheckingOptions()
                .iterations(0)
                .invocationsPerIteration(200)
                .logLevel(LoggingLevel.ERROR)
                .invocationTimeout$lincheck(120_000)
                .loopBound(200) // recentTimeWait's bounded walk of its one-second buckets
                .addCustomScenario(new ExecutionScenario(List.of(),
                        List.of(List.of(op("kernelRead")), List.of(op("connectGaveUpWaiting"))),
                        List.of(op("others")), null))
                .check(KernelCountFallbackLincheckTest.class);
    }

    private static Actor op(String name) {
        try {
            return new Actor(KernelCountFallbackLincheckTest.class.getMethod(name), List.of());
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(name, e);
        }
    }
}
