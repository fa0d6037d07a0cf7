package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;

/**
 * One lease of a pooled connection: a handle, not the connection's slot. Each lease gets its
 * own handle, so a handle kept after its close (a second {@code close()}, a late
 * {@code abort()} from a canceller) can never touch the connection once someone else holds it.
 *
 * <p>States: OPEN → CLOSED by the holder's first close; OPEN → ABORTING → ABORTED by an
 * abort from any thread, then → CLOSED by the holder's close. A close that meets ABORTING waits
 * the few instructions until the socket is shut, so the release always sees the abort, and an
 * abort that meets CLOSED does nothing.
 *
 * <p>A lease of a connection whose connector {@linkplain ConnectsOnFirstUse connects on first
 * use} starts with its connect pending: the holder connects it and reports the outcome once,
 * with {@link #connected}, {@link #connectFailed} or {@link #connectAbandoned}; a close before
 * any report abandons the connect. Until the report the pool has told nobody of the connection:
 * the guard, the listeners and the port budget hear of it as they hear of any other connect. A
 * close from another thread (a canceller) while a success is being reported (the guard deciding,
 * the listeners hearing it opened and leased) is deferred: the reporting thread completes it once
 * the report is done, so a connection the guard refuses is never released into the pool, and no
 * {@code released} is heard before its {@code leased}.
 */
public final class LeaseHandle<C> implements Lease<C> {

    private static final int OPEN = 0;
    private static final int ABORTING = 1;
    private static final int ABORTED = 2;
    private static final int CLOSED = 3;

    /** The connect is the pool's own, done and reported before the lease was handed out. */
    private static final int CONNECT_DONE = 0;
    /** The holder is to connect (a connector that connects on first use) and report it. */
    private static final int CONNECT_PENDING = 1;
    /** The holder's connect failed or was abandoned: the connection never opened. */
    private static final int CONNECT_FAILED = 2;
    /** It connected, but the guard threw from connectSucceeded: opened, never taken into service. */
    private static final int CONNECT_REFUSED = 3;
    /** The holder reported a success that the guard and the listeners are hearing: DONE or REFUSED next. */
    private static final int CONNECT_REPORTING = 4;
    /** As REPORTING, and the lease was closed meanwhile: the reporting thread completes that close. */
    private static final int CONNECT_REPORTING_CLOSED = 5;

    private static final VarHandle STATE;
    private static final VarHandle CONNECT;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(LeaseHandle.class, "state", int.class);
            CONNECT = MethodHandles.lookup().findVarHandle(LeaseHandle.class, "connect", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final PooledEntry<C> entry;
    private final boolean reused;
    private volatile int state;
    /**
     * Where the connect stands ({@code CONNECT_*}); moves once from PENDING, by CAS, and a
     * success through REPORTING (then REPORTING_CLOSED if closed meanwhile) to DONE or REFUSED.
     */
    private volatile int connect;
    /** The guard refused the success being reported. Written and read by the reporting thread only. */
    private boolean guardRefused;
    /** Whether a close deferred by a report met an aborted lease; published by the CAS to REPORTING_CLOSED. */
    private boolean deferredCloseAborted;
    /** How long the lease waited for its slot, for the {@code leased} event a pending connect defers. */
    private final long waitedNanos;
    // Volatile: besides the holder, a canceller may mark the lease (HttpClient's cancel closes
    // the endpoint from its own thread), and the holder's close must see that mark.
    private volatile boolean broken;
    private volatile boolean retire;
    /** The peer closed after answering: not reused, closed at once (passively), not a failure. */
    private volatile boolean peerClosed;
    /** Where the connection goes back to on release, if not its own endpoint. Holder only. */
    private Endpoint moveTo;

    LeaseHandle(PooledEntry<C> entry, boolean reused) {
        this.entry = entry;
        this.reused = reused;
        this.waitedNanos = 0L;
    }

    /** A lease of a new connection whose holder is to connect it (see {@link ConnectsOnFirstUse}). */
    LeaseHandle(PooledEntry<C> entry, long waitedNanos) {
        this.entry = entry;
        this.reused = false;
        this.waitedNanos = waitedNanos;
        this.connect = CONNECT_PENDING;
    }

    /**
     * Marks a {@link io.github.portkeeper.core.Connector} whose {@code connect} does no I/O: it
     * returns an unconnected connection, and the lease's holder connects it on first use (HTTP:
     * HttpClient's own connection operator connects and handshakes TLS after the lease). The pool
     * then tells the connect guard, the listeners and the port budget of that connect only when
     * the holder reports its outcome, on the lease: {@link #connected}, {@link #connectFailed}
     * or {@link #connectAbandoned}. The guard's {@code beforeConnect} still runs at the lease,
     * before the holder connects.
     *
     * <p>Internal, like the report: a connector outside Portkeeper's transports cannot report,
     * and would leave every connection's connect pending until the lease closes.
     */
    public interface ConnectsOnFirstUse {
    }

    /**
     * The holder connected {@code lease}'s connection, in {@code nanos}: the guard hears of the
     * success, the listeners of a connection opened and a new lease served. Once per connect; a
     * no-op on a lease whose connect is not pending (a reused connection, a lease of some other
     * making, a connect already reported or abandoned by the lease's close).
     *
     * @throws RuntimeException or {@link Error} the guard's {@code connectSucceeded} threw: the
     *         connection is not taken into service (the lease's close resets it and records it
     *         {@link io.github.portkeeper.core.CloseReason#BROKEN}), and the lease was rejected
     */
    public static void connected(Lease<?> lease, long nanos) {
        if (lease instanceof LeaseHandle<?> h && h.resolve(CONNECT_REPORTING)) {
            h.reportConnected(nanos);
        }
    }

    /**
     * The holder's connect of {@code lease}'s connection failed after {@code nanos}: the guard and
     * the listeners hear of a failed connect, and the lease is rejected. The connection never
     * opened; the lease's close gives back its slot and port and reports no close (unless it left
     * a TIME_WAIT). Once per connect, as {@link #connected}.
     *
     * @param cause the connect's exception (an {@link IOException} or a {@link RuntimeException})
     */
    public static void connectFailed(Lease<?> lease, long nanos, Exception cause) {
        if (lease instanceof LeaseHandle<?> h && h.resolve(CONNECT_FAILED)) {
            h.reportFailed(nanos, cause);
        }
    }

    /**
     * The holder's connect of {@code lease}'s connection was cut short by its caller (a cancel, an
     * interrupt, the manager's close), or succeeded for nobody: neither a success nor a failure of
     * the endpoint. The guard hears {@code connectAbandoned}, the listeners a rejected lease. Once
     * per connect, as {@link #connected}; closing the lease before any report does the same.
     */
    public static void connectAbandoned(Lease<?> lease) {
        if (lease instanceof LeaseHandle<?> h && h.resolve(CONNECT_FAILED)) {
            h.reportAbandoned();
        }
    }

    /**
     * Tells the guard and the listeners, then settles the connect: DONE, or REFUSED if the guard
     * threw. Only then may the lease's close act on it; a close that came meanwhile is done here.
     */
    private void reportConnected(long nanos) {
        try {
            entry.pool.engine.opener.connectedLate(this, nanos);
        } catch (RuntimeException | Error bug) {
            try {
                settle();
            } catch (RuntimeException | Error another) {
                if (another != bug) {
                    bug.addSuppressed(another);
                }
            }
            throw bug;
        }
        settle();
    }

    private void settle() {
        int outcome = guardRefused ? CONNECT_REFUSED : CONNECT_DONE;
        if (!CONNECT.compareAndSet(this, CONNECT_REPORTING, outcome)) {
            // REPORTING_CLOSED: the lease was closed while we reported; its close is ours to finish.
            connect = outcome;
            finishClose(deferredCloseAborted);
        }
    }

    private void reportFailed(long nanos, Exception cause) {
        entry.pool.engine.opener.failedLate(entry.pool, nanos, cause);
    }

    private void reportAbandoned() {
        entry.pool.engine.opener.abandonedLate(entry.pool);
    }

    /** Moves a pending connect to {@code outcome}; false if it was not pending. */
    private boolean resolve(int outcome) {
        return connect == CONNECT_PENDING && CONNECT.compareAndSet(this, CONNECT_PENDING, outcome);
    }

    /**
     * The guard refused the connection it heard connected: the close resets it, unreleased. On the
     * reporting thread, during {@link Opener#connectedLate}; the report settles the connect.
     */
    void refused() {
        guardRefused = true;
    }

    long waitedNanos() {
        return waitedNanos;
    }

    PooledEntry<C> entry() {
        return entry;
    }

    @Override
    public C connection() {
        if (state == CLOSED) {
            throw new IllegalStateException("lease of " + entry.pool.endpoint + " is closed");
        }
        return entry.connection;
    }

    @Override
    public Endpoint endpoint() {
        return entry.pool.endpoint;
    }

    @Override
    public void markBroken() {
        if (state != CLOSED) {
            broken = true;
        }
    }

    /**
     * The holder read the peer's end of stream after its answer (the server closes first, after
     * serving the request): the connection is not reused, and it is closed when the lease closes,
     * passively, as {@link io.github.portkeeper.core.CloseReason#PEER_CLOSED}. Not a failure, so
     * the request it served counts as one. {@link #markBroken()} wins over it.
     */
    public void markPeerClosed() {
        if (state != CLOSED) {
            peerClosed = true;
        }
    }

    /**
     * {@link #markPeerClosed()} on {@code lease} if it is a pool's lease, else (a lease of some
     * other making) {@link Lease#markBroken()}.
     */
    public static void markPeerClosed(Lease<?> lease) {
        if (lease instanceof LeaseHandle<?> handle) {
            handle.markPeerClosed();
        } else {
            lease.markBroken();
        }
    }

    /**
     * The holder's read or write failed as a reset (or a kernel abort) does: the close, which will
     * find only an end of stream, records it as {@link io.github.portkeeper.core.Ending#ABORTED}.
     * A no-op on a lease of some other making.
     */
    public static void markLostUnderCall(Lease<?> lease) {
        if (lease instanceof LeaseHandle<?> handle && handle.state != CLOSED) {
            handle.entry.lostUnderCall = true;
        }
    }

    @Override
    public void retire() {
        if (state != CLOSED) {
            retire = true;
        }
    }

    @Override
    public void moveTo(Endpoint endpoint) {
        Objects.requireNonNull(endpoint, "moveTo endpoint must not be null");
        Endpoint own = entry.pool.endpoint;
        if (!endpoint.host().equals(own.host()) || endpoint.port() != own.port()) {
            throw new IllegalArgumentException("moveTo endpoint must have the host and port of " + own + ", but was " + endpoint);
        }
        if (state != CLOSED) {
            moveTo = endpoint.equals(own) ? null : endpoint;
        }
    }

    @Override
    public boolean isLastUse() {
        return state != CLOSED && entry.lastUse;
    }

    @Override
    public boolean isReused() {
        return reused;
    }

    @Override
    public void abort() {
        if (STATE.compareAndSet(this, OPEN, ABORTING)) {
            entry.aborted = true;
            // Not the entry's cached channel: abort may come from another thread than the owner's.
            SocketCloser.abort(entry.pool.engine.connector().channel(entry.connection));
            state = ABORTED;
        }
    }

    @Override
    public void close() {
        for (;;) {
            int s = state;
            if (s == CLOSED) {
                return;
            }
            if (s == ABORTING) {
                Thread.onSpinWait();
                continue;
            }
            if (STATE.compareAndSet(this, s, CLOSED)) {
                finishClose(s == ABORTED);
                return;
            }
        }
    }

    /**
     * What the close does once the lease is CLOSED, by where the connect stands: a connection in
     * service is released; one never taken into service is reset ({@link #closeUnopened}); one
     * whose success is being reported is left to the reporting thread, which calls this again
     * when the guard and the listeners have heard it.
     */
    private void finishClose(boolean aborted) {
        for (;;) {
            int c = connect;
            if (c == CONNECT_DONE) {
                entry.pool.engine.release(entry, broken || aborted, retire, peerClosed, moveTo);
                return;
            }
            if (c == CONNECT_REPORTING) {
                deferredCloseAborted = aborted;
                if (CONNECT.compareAndSet(this, CONNECT_REPORTING, CONNECT_REPORTING_CLOSED)) {
                    return;
                }
                continue; // the report settled meanwhile
            }
            if (c == CONNECT_PENDING) {
                if (!resolve(CONNECT_FAILED)) {
                    continue; // reported meanwhile
                }
                closeUnopened();
                entry.pool.engine.opener.abandonedLate(entry.pool);
                return;
            }
            closeUnopened(); // FAILED or REFUSED
            return;
        }
    }

    /**
     * The close of a lease whose connection the pool never took into service: its connect was
     * abandoned (by this close), failed, or the guard refused it. Nothing was heard of it as
     * leased, so nothing is heard of it released: it is reset at once (no TIME_WAIT) and its slot
     * and port are given back; its close is reported only if it opened.
     */
    private void closeUnopened() {
        entry.leasedFrom = null;
        entry.pool.engine.retirer.closeEntry(entry, true, io.github.portkeeper.core.CloseReason.BROKEN, connect == CONNECT_REFUSED, false);
    }

    @Override
    public String toString() {
        return "Lease{" + entry.pool.endpoint + (state == CLOSED ? ", closed}" : ", open}");
    }
}
