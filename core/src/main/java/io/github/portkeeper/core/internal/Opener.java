package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.ConnectFailedException;
import io.github.portkeeper.core.ConnectGuard;
import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolException;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.nio.channels.ClosedByInterruptException;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Opens new connections in slots the caller reserved: through the port-budget gate and the
 * connect guard, outside any lock, and accounts for failures so a failed connect frees its slot
 * and its port, whatever it threw (an {@link Error} from the user's connector or guard included).
 * The slot and port are given back before the guard hears of the outcome, so a guard that throws
 * from {@code connectAbandoned} cannot keep them. A connection that connected but that user code
 * then kept the pool from taking (the guard's {@code connectSucceeded} or the connector's
 * {@code channel} threw) is closed at once, never left open and counted.
 *
 * <p>A connector that {@linkplain LeaseHandle.ConnectsOnFirstUse connects on first use} does no
 * I/O here: its lease is handed out with the connect pending, and the guard, the listeners and
 * the port budget hear of the connect when the holder reports it on the lease
 * ({@link #connectedLate}, {@link #failedLate}, {@link #abandonedLate}), as they would have here.
 */
final class Opener<C> {

    private final PoolEngine<C> engine;
    private final Connector<C> connector;
    private final ConnectGuard connectGuard;
    private final long maxLifetimeNanos;
    private final long lifetimeJitterNanos;
    /** The connector's connect does no I/O: the lease's holder connects and reports the outcome. */
    private final boolean connectsOnFirstUse;

    Opener(PoolEngine<C> engine, Connector<C> connector, ConnectGuard connectGuard,
           long maxLifetimeNanos, long lifetimeJitterNanos) {
        this.engine = engine;
        this.connector = connector;
        this.connectGuard = connectGuard;
        this.maxLifetimeNanos = maxLifetimeNanos;
        this.lifetimeJitterNanos = lifetimeJitterNanos;
        this.connectsOnFirstUse = connector instanceof LeaseHandle.ConnectsOnFirstUse;
    }

    /**
     * Opens a connection in a slot the caller reserved, if the port budget allows; otherwise
     * gives the slot back and waits for the budget. Null if the endpoint pool was removed
     * meanwhile (the caller looks the endpoint up again).
     */
    LeaseHandle<C> connectNew(EndpointPool<C> ep, long waitedNanos, long timeoutNanos, boolean fresh) throws IOException {
        if (!engine.portGate.takePort(ep)) {
            engine.capacity.unreserve(ep);
            return engine.portGate.awaitPortBudget(ep, waitedNanos, timeoutNanos, fresh);
        }
        return open(ep, waitedNanos);
    }

    /** Opens a connection; the caller holds a reserved slot and a port. */
    LeaseHandle<C> open(EndpointPool<C> ep, long waitedNanos) throws IOException {
        if (Thread.currentThread().isInterrupted()) {
            // A cancelled caller (a permit collected as the interrupt came, or a fast path taken
            // interrupted): connect nothing. Before the guard, so it grants no permission unused.
            throw giveUp(ep, interrupted(ep, null));
        }
        try {
            connectGuard.beforeConnect(ep.endpoint);
        } catch (PoolException | RuntimeException | Error refused) {
            // An Error from the guard (the user's code) gives everything back the same way, and
            // surfaces unchanged.
            ep.ports.giveBack();
            engine.capacity.unreserve(ep);
            engine.mayBeEmpty(ep); // a refused first connect leaves the endpoint empty
            engine.listeners.leaseRejected(ep.endpoint, refused);
            throw refused;
        }
        if (engine.isClosed()) {
            // Closed while we were in the guard (which may block): open nothing, not even to reset it.
            PoolException closed = giveUp(ep, engine.closedException(ep.endpoint));
            connectGuard.connectAbandoned(ep.endpoint);
            throw closed;
        }
        long t0 = System.nanoTime();
        C connection;
        try {
            connection = connector.connect(ep.endpoint);
            if (connection == null) {
                throw new IOException("connector returned no connection");
            }
        } catch (IOException | RuntimeException ex) {
            if (isInterrupt(ex)) {
                // The caller was cancelled, the endpoint did not fail: neither the guard (a burst of
                // cancellations must not open a circuit breaker) nor connectFailed hears of it. The
                // JDK closed the channel; if the handshake had completed, the connector's SO_LINGER 0
                // made that an RST, so there is no TIME_WAIT to count.
                Thread.currentThread().interrupt();
                PoolException cancelled = giveUp(ep, interrupted(ep, ex));
                connectGuard.connectAbandoned(ep.endpoint);
                throw cancelled;
            }
            long nanos = System.nanoTime() - t0;
            ep.ports.giveBack(); // also ends the connect in progress
            engine.capacity.unreserve(ep);
            engine.mayBeEmpty(ep);
            connectGuard.connectFailed(ep.endpoint, nanos, ex instanceof IOException ? (IOException) ex : new IOException(ex));
            engine.listeners.connectFailed(ep.endpoint, ex);
            ConnectFailedException failure = new ConnectFailedException(ep.endpoint, ex);
            engine.listeners.leaseRejected(ep.endpoint, failure);
            throw failure;
        } catch (Error bug) {
            throw connectError(ep, bug);
        }
        long connectNanos = System.nanoTime() - t0;
        if (connectsOnFirstUse) {
            return pendingLease(ep, connection, waitedNanos);
        }
        ep.ports.connectDone();
        long now = engine.now();
        PooledEntry<C> e = new PooledEntry<>(ep, connection, now, lifetime());
        try {
            // Seeing the socket holds it for abort: an interrupt that closes the channel behind our
            // back must reset it, not leave a TIME_WAIT we cannot see. Before the guard hears of
            // success, so that it hears only of connections the pool could take.
            e.channel();
        } catch (RuntimeException | Error bug) {
            discardWithoutChannel(e, connectNanos, bug);
            throw bug;
        }
        try {
            connectGuard.connectSucceeded(ep.endpoint, connectNanos);
        } catch (RuntimeException | Error bug) {
            discard(e, connectNanos, bug);
            throw bug;
        }
        e.idleSince = now;
        ep.add(e);
        engine.housekeeper.ensureStarted();
        engine.listeners.connectionOpened(ep.endpoint, connectNanos);
        if (engine.isClosed()) {
            engine.retirer.retire(e, CloseReason.POOL_CLOSED);
            throw engine.rejected(ep.endpoint, engine.closedException(ep.endpoint));
        }
        return engine.onLeased(e, false, waitedNanos);
    }

    private long lifetime() {
        long jitter = lifetimeJitterNanos > 0 ? ThreadLocalRandom.current().nextLong(lifetimeJitterNanos + 1) : 0L;
        return maxLifetimeNanos - jitter;
    }

    /**
     * Hands out a lease of a connection whose holder is to connect it: nobody hears of the
     * connect yet (the guard has only allowed it), the port stays taken as a connect in progress,
     * and the {@code leased} event waits for the outcome, so a connect that fails counts a
     * rejected lease, as it does for any other connector, not a new one.
     */
    private LeaseHandle<C> pendingLease(EndpointPool<C> ep, C connection, long waitedNanos) throws PoolException {
        if (engine.isClosed()) {
            // Closed while we prepared it: the holder never gets it, nor connects it.
            try {
                connector.dispose(connection);
            } catch (RuntimeException ignored) {
                // nothing was connected; the accounting goes on
            }
            PoolException closed = giveUp(ep, engine.closedException(ep.endpoint));
            connectGuard.connectAbandoned(ep.endpoint);
            throw closed;
        }
        long now = engine.now();
        PooledEntry<C> e = new PooledEntry<>(ep, connection, now, lifetime());
        e.idleSince = now;
        ep.add(e);
        engine.housekeeper.ensureStarted();
        e.prepareLease();
        if (engine.leaks.enabled()) {
            engine.leaks.leased(e);
        }
        return new LeaseHandle<>(e, waitedNanos);
    }

    /**
     * The holder of {@code h} connected its connection in {@code nanos}: what {@link #open} does
     * after a connect, for a connection already leased. If the guard's {@code connectSucceeded}
     * throws, the connection is not taken into service, as in {@link #discard}: the listeners
     * hear it opened and the lease rejected, the lease's close resets it (recorded
     * {@link CloseReason#BROKEN}, no lease served), and the guard's exception surfaces unchanged.
     */
    void connectedLate(LeaseHandle<C> h, long nanos) {
        EndpointPool<C> ep = h.entry().pool;
        ep.ports.connectDone();
        try {
            connectGuard.connectSucceeded(ep.endpoint, nanos);
        } catch (RuntimeException | Error bug) {
            h.refused();
            engine.listeners.connectionOpened(ep.endpoint, nanos);
            engine.listeners.leaseRejected(ep.endpoint, bug);
            throw bug;
        }
        engine.listeners.connectionOpened(ep.endpoint, nanos);
        engine.listeners.leased(ep.endpoint, false, h.waitedNanos());
    }

    /**
     * The holder's connect to {@code ep} failed after {@code nanos}: the guard and the listeners
     * hear what a failed connect in {@link #open} tells them. The slot and the port are given back
     * when the holder closes the lease (it holds the connection until then).
     */
    void failedLate(EndpointPool<C> ep, long nanos, Exception cause) {
        ep.ports.connectDone();
        try {
            connectGuard.connectFailed(ep.endpoint, nanos, cause instanceof IOException ? (IOException) cause : new IOException(cause));
        } finally {
            engine.listeners.connectFailed(ep.endpoint, cause);
            engine.listeners.leaseRejected(ep.endpoint, new ConnectFailedException(ep.endpoint, cause));
        }
    }

    /**
     * The holder's connect to {@code ep} was cut short by its caller, or the lease closed before
     * it was reported: as an interrupted connect in {@link #open}, a rejected lease, and for the
     * guard an abandoned connect (a half-open breaker's trial is given back).
     */
    void abandonedLate(EndpointPool<C> ep) {
        ep.ports.connectDone();
        engine.rejected(ep.endpoint, new InterruptedIOException("Connect to " + ep.endpoint + " abandoned before it completed"));
        connectGuard.connectAbandoned(ep.endpoint);
    }

    /**
     * The connector threw an {@link Error} (an {@code AssertionError}, a class that failed to
     * initialize): the slot and the port are given back as for any failed connect, and the Error
     * surfaces unchanged, so the bug is seen as it is and never as a {@code PoolException}.
     *
     * <p>For the listeners the connect failed (a lease asked for a connection and got none:
     * {@code connectFailed}, then {@code leaseRejected} with the Error itself, once each). For the
     * connect guard it was abandoned, not failed: an Error says nothing about the endpoint, and a
     * connector bug that throws on every connect must not open a circuit breaker (which would then
     * hide the Error behind {@code CircuitOpenException}); a half-open breaker's trial is given
     * back. Resilience4j's own decorators leave an Error unrecorded too.
     */
    private Error connectError(EndpointPool<C> ep, Error bug) {
        ep.ports.giveBack(); // also ends the connect in progress
        engine.capacity.unreserve(ep);
        engine.mayBeEmpty(ep);
        connectGuard.connectAbandoned(ep.endpoint);
        engine.listeners.connectFailed(ep.endpoint, bug);
        engine.listeners.leaseRejected(ep.endpoint, bug);
        return bug;
    }

    /**
     * The connect guard threw from {@code connectSucceeded} (its own code): the fresh connection
     * served nothing and the pool will not take it into service, so it is reset at once (no
     * TIME_WAIT) by the one close path, which gives back its slot and port and records its
     * ending. Listeners hear it opened and closed ({@link CloseReason#BROKEN}, served no lease),
     * then the lease rejected with the guard's exception, which surfaces unchanged, as a refusal
     * from {@code beforeConnect} does. The guard, having heard the outcome, hears nothing more.
     */
    private void discard(PooledEntry<C> e, long connectNanos, Throwable bug) {
        EndpointPool<C> ep = e.pool;
        engine.listeners.connectionOpened(ep.endpoint, connectNanos);
        engine.retirer.closeEntry(e, true, CloseReason.BROKEN);
        engine.listeners.leaseRejected(ep.endpoint, bug);
    }

    /**
     * The connector threw from {@code channel} (its own code): the pool cannot see the socket, so
     * it ends the connection as one without a socket, by {@link Connector#dispose} on this thread,
     * recording {@link Connector#endingWithoutChannel} (the cautious {@link Ending#LOCAL} if that
     * throws too). Slot and port are given back, the listeners hear as in {@link #discard}, and
     * the guard hears the connect abandoned, as it does of an {@link Error} from the connector: a
     * bug in code says nothing of the endpoint. The connector's exception surfaces unchanged;
     * what {@code dispose} or the guard throw meanwhile is attached to it as suppressed.
     */
    private void discardWithoutChannel(PooledEntry<C> e, long connectNanos, Throwable bug) {
        EndpointPool<C> ep = e.pool;
        Ending ending;
        try {
            ending = connector.wasEstablished(e.connection) ? connector.endingWithoutChannel(e.connection) : Ending.FAILED;
        } catch (RuntimeException | Error another) {
            suppress(bug, another);
            ending = Ending.LOCAL;
        }
        long ticket = ep.ports.closing(); // dispose closes the socket: see Retirer.closeEntry
        try {
            connector.dispose(e.connection);
        } catch (RuntimeException | Error another) {
            suppress(bug, another);
        }
        e.claim2dead();
        engine.capacity.unreserve(ep);
        ep.ports.closed(ending, engine.now(), ticket);
        engine.mayBeEmpty(ep);
        engine.listeners.connectionOpened(ep.endpoint, connectNanos);
        engine.listeners.connectionClosed(ep.endpoint, ending, CloseReason.BROKEN, false);
        engine.listeners.leaseRejected(ep.endpoint, bug);
        try {
            connectGuard.connectAbandoned(ep.endpoint);
        } catch (RuntimeException | Error another) {
            suppress(bug, another);
        }
    }

    private static void suppress(Throwable surfacing, Throwable another) {
        if (another != surfacing) { // the same instance thrown twice cannot suppress itself
            surfacing.addSuppressed(another);
        }
    }

    /** Gives back the port and slot of a connect that will not happen, and rejects the lease. */
    private PoolException giveUp(EndpointPool<C> ep, IOException reason) {
        ep.ports.giveBack();
        engine.capacity.unreserve(ep);
        engine.mayBeEmpty(ep);
        return engine.rejected(ep.endpoint, reason);
    }

    private static InterruptedIOException interrupted(EndpointPool<?> ep, Exception cause) {
        InterruptedIOException e = new InterruptedIOException("Interrupted while connecting to " + ep.endpoint);
        if (cause != null) {
            e.initCause(cause);
        }
        return e;
    }

    /** An interrupt of the connecting thread, as opposed to a connect that timed out or failed. */
    private static boolean isInterrupt(Exception ex) {
        return ex instanceof ClosedByInterruptException
                || ex instanceof InterruptedIOException && !(ex instanceof SocketTimeoutException);
    }
}
