package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;

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
 */
public final class LeaseHandle<C> implements Lease<C> {

    private static final int OPEN = 0;
    private static final int ABORTING = 1;
    private static final int ABORTED = 2;
    private static final int CLOSED = 3;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(LeaseHandle.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final PooledEntry<C> entry;
    private final boolean reused;
    private volatile int state;
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
                entry.pool.engine.release(entry, broken || s == ABORTED, retire, peerClosed, moveTo);
                return;
            }
        }
    }

    @Override
    public String toString() {
        return "Lease{" + entry.pool.endpoint + (state == CLOSED ? ", closed}" : ", open}");
    }
}
