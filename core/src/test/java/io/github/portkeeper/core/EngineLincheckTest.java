package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import org.jetbrains.kotlinx.lincheck.LinChecker;
import org.jetbrains.kotlinx.lincheck.annotations.Operation;
import org.jetbrains.kotlinx.lincheck.annotations.Validate;
import org.jetbrains.kotlinx.lincheck.strategy.stress.StressOptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;

/**
 * Lincheck, stress strategy: many short concurrent scenarios of lease, release, double close,
 * abort, retire, stale-handle close, pool close and a housekeeping round on two threads.
 * Operations return nothing, so any exception is a failure; each checks that it is the
 * connection's only holder, and {@link #countsBalance()} checks the books after each run.
 */
public class EngineLincheckTest {

    private static final Endpoint A = Endpoint.of("a.example", 80);

    private final StubConnector connector = new StubConnector();
    private final Pool<StubConnection> pool = Pool.of(connector, PoolConfig.builder()
            .maxPerEndpoint(1).maxTotal(1).ticker(new FakeTicker()).lifetimeJitter(Duration.ZERO)
            .retirement(Retirement.reset()).portBudget(PortBudget.disabled()).build());
    /** A lease closed once already, kept to close (or abort) again later: the stale handle. */
    private volatile Lease<StubConnection> stale;

    private Lease<StubConnection> leaseOrNull() {
        try {
            Lease<StubConnection> lease = pool.lease(A, Duration.ZERO);
            if (lease.connection().holders.incrementAndGet() != 1) {
                throw new AssertionError("two holders of " + lease.connection());
            }
            return lease;
        } catch (IOException busyOrClosed) {
            return null; // none free without waiting, or the pool is closed: both are fine
        }
    }

    private static void giveBack(Lease<StubConnection> lease) {
        lease.connection().holders.decrementAndGet();
        lease.close();
    }

    @Operation
    public void leaseThenCloseTwice() {
        Lease<StubConnection> lease = leaseOrNull();
        if (lease != null) {
            giveBack(lease);
            lease.close();
            stale = lease;
        }
    }

    @Operation
    public void leaseAbortThenClose() {
        Lease<StubConnection> lease = leaseOrNull();
        if (lease != null) {
            lease.abort();
            giveBack(lease);
        }
    }

    @Operation
    public void leaseAndRetire() {
        Lease<StubConnection> lease = leaseOrNull();
        if (lease != null) {
            lease.retire();
            giveBack(lease);
        }
    }

    @Operation
    public void staleHandleClosesAndAbortsAgain() {
        Lease<StubConnection> old = stale;
        if (old != null) {
            old.abort();
            old.close();
        }
    }

    @Operation
    public void retireIdle() {
        pool.retireIdle((connection, idle) -> true);
    }

    @Operation
    public void housekeeping() {
        pool.engine().maintain();
    }

    @Operation
    public void closePool() {
        pool.close();
    }

    @Validate
    public void countsBalance() {
        PoolStats s = pool.stats();
        if (s.active() != 0) {
            throw new AssertionError("a lease is still counted active after every holder closed: " + s);
        }
        long open = connector.opened.size() - connector.disposedCount();
        if (pool.engine().totalAllocated() != s.idle() || open != s.idle() + s.draining()) {
            throw new AssertionError("books do not balance: " + s + ", counted " + pool.engine().totalAllocated()
                    + ", open " + open);
        }
        if (pool.isClosed() && open != 0) {
            throw new AssertionError("a closed pool keeps " + open + " connection(s) open: " + s);
        }
    }

    @Test
    void concurrentScenariosKeepOneHolderPerConnectionAndBalancedBooks() {
        StressOptions options = new StressOptions()
                .iterations(50)
                .invocationsPerIteration(500)
                .threads(2)
                .actorsPerThread(3)
                .actorsBefore(1)
                .actorsAfter(1);
        LinChecker.check(EngineLincheckTest.class, options);
    }
}
