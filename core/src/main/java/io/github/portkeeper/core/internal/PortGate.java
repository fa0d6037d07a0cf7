package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.LeaseTimeoutException;
import io.github.portkeeper.core.PoolStats;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.PortBudgetExhaustedException;
import io.github.portkeeper.core.PortBudgetSnapshot;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * The port-budget gate in front of every connect: a new connection takes a port from its
 * endpoint's budget (open sockets plus the TIME_WAIT we caused in the last 60 s plus what others
 * hold) or waits for one, and fails with a {@link PortBudgetExhaustedException} naming the counts
 * rather than meet the kernel's EADDRNOTAVAIL.
 */
final class PortGate<C> {

    private static final long BUDGET_POLL_NANOS = 10_000_000L;

    private final PoolEngine<C> engine;
    private final PortBudget portBudget;
    private final int perEndpoint;

    PortGate(PoolEngine<C> engine, PortBudget portBudget) {
        this.engine = engine;
        this.portBudget = portBudget;
        this.perEndpoint = portBudget.perEndpoint();
    }

    /** Takes a port toward {@code ep} for a connect, if the budget allows. */
    boolean takePort(EndpointPool<C> ep) {
        if (!portBudget.isEnabled()) {
            ep.ports.take();
            return true;
        }
        KernelPortCounter kernel = engine.housekeeper.kernel;
        if (portBudget.usesKernel() && kernel.isAvailable()) {
            // What do others hold toward this endpoint? Counted by the JVM's one kernel reader,
            // never here: a lease waits only for an endpoint's first count or after a burst.
            kernel.beforeConnect(ep, perEndpoint);
        }
        return ep.ports.tryTake(perEndpoint, engine.now());
    }

    /**
     * The endpoint's port budget is spent. Wait, within the lease timeout, for a connection to
     * come back to the idle set or for ports to come back (TIME_WAIT expiring, connections
     * closing), checking every 10 ms; then fail with a {@link PortBudgetExhaustedException}, or,
     * if by then the budget has room and the limits are what holds the lease back, with the
     * {@link LeaseTimeoutException} of any lease the limits held back. Arrival order is not kept
     * in this state: the budget, not the limits, is the bottleneck.
     * A {@code fresh} lease takes no idle connection.
     */
    LeaseHandle<C> awaitPortBudget(EndpointPool<C> ep, long waitedNanos, long timeoutNanos, boolean fresh)
            throws IOException {
        long start = System.nanoTime() - waitedNanos;
        for (;;) {
            if (engine.isClosed()) {
                throw engine.rejected(ep.endpoint, engine.closedException(ep.endpoint));
            }
            if (ep.isRemoved()) {
                return null; // the caller looks the endpoint up again
            }
            PooledEntry<C> e = fresh ? null : engine.admission.claimForLease(ep);
            if (e != null) {
                return engine.onLeased(e, true, System.nanoTime() - start);
            }
            if (engine.capacity.reserve(ep)) {
                if (takePort(ep)) {
                    return engine.opener.open(ep, System.nanoTime() - start);
                }
                engine.capacity.unreserve(ep);
            }
            long remaining = timeoutNanos - (System.nanoTime() - start);
            if (remaining <= 0) {
                PortBudgetSnapshot.EndpointBudget usage = ep.ports.usage(perEndpoint, engine.now());
                if (usage.used() < perEndpoint) {
                    throw heldBackByLimits(ep, System.nanoTime() - start);
                }
                PortBudgetExhaustedException spent = new PortBudgetExhaustedException(ep.endpoint, portBudget, usage);
                engine.listeners.leaseRejected(ep.endpoint, spent);
                throw spent;
            }
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                throw engine.rejected(ep.endpoint, new InterruptedIOException(
                        "Interrupted while waiting for the port budget toward " + ep.endpoint));
            }
            LockSupport.parkNanos(this, Math.min(remaining, BUDGET_POLL_NANOS));
        }
    }

    /**
     * The budget has room now, so the limits held the lease back when it gave up: a timeout, as
     * the waiter queue reports one, not a budget that is not spent and advice about TIME_WAIT.
     */
    private LeaseTimeoutException heldBackByLimits(EndpointPool<C> ep, long waitedNanos) {
        engine.listeners.leaseTimedOut(ep.endpoint, waitedNanos);
        PoolStats.EndpointStats s = ep.stats();
        return new LeaseTimeoutException(ep.endpoint, "Timed out after " + Duration.ofNanos(waitedNanos).toMillis()
                + " ms waiting for a connection to " + ep.endpoint + " (active " + s.active() + ", idle " + s.idle()
                + ", pending " + s.pending() + "; maxPerEndpoint " + engine.capacity.maxPerEndpoint()
                + ", maxTotal " + engine.capacity.maxTotal() + ", total open " + engine.capacity.total() + ")");
    }

    int perEndpoint() {
        return perEndpoint;
    }

    PortBudget budget() {
        return portBudget;
    }
}
