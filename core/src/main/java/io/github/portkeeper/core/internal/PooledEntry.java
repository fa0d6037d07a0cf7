package io.github.portkeeper.core.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.channels.SocketChannel;

/**
 * One pooled connection: its slot in the pool. Holders never see it; each lease gets its own
 * {@link LeaseHandle}, so a stale handle cannot reach a later holder's lease.
 *
 * <h2>States and who may move them (see docs/design/connection-states.md)</h2>
 * <pre>
 *   (connect) ──▶ LEASED ◀──claim (CAS)── IDLE ◀──release── LEASED
 *                   │  ▲                   │ ▲
 *                   │  └─unwatch (leaser)──┤ │ watch/unwatch (watcher thread)
 *                   │                      ▼ │
 *                   │                    WATCHED
 *                   ▼
 *               DRAINING ──peer FIN / drain timeout──▶ CLOSED
 *
 *   IDLE or WATCHED ──take (CAS, a pool thread)──▶ HELD ──retire / close──▶ DRAINING or CLOSED
 *                                                  HELD ──nothing there (watcher)──▶ WATCHED
 *   LEASED or HELD ──retire (owner)──▶ RETIRING ──goodbye said──▶ DRAINING (or CLOSED if it failed)
 * </pre>
 * Every move out of IDLE or WATCHED is a CAS, so exactly one thread (a leaser, the housekeeper or
 * the watcher) wins the connection. A leaser's win is LEASED; a pool thread that takes an idle
 * connection only to look at it, retire it or close it (housekeeping, the evictor, pool close)
 * holds it as HELD, which the stats count as idle, not as a lease. Moves out of LEASED are made
 * only by the lease holder (or by the pool on its behalf after a hand-off), out of HELD only by
 * the thread holding it. A connection being retired to await its peer is RETIRING while its owner
 * sends the protocol's goodbye (the connector's code, which may wait for the server): no lease holds
 * it and it no longer counts against the limits, so the stats count it as draining, but the
 * housekeeper leaves it alone (it neither times it out nor closes it with the pool) until its owner
 * hands it over as DRAINING. DRAINING and CLOSED are owned by the engine's close path, which is the
 * only place a connection's socket is closed.
 */
public final class PooledEntry<C> {

    static final int IDLE = 0;
    static final int LEASED = 1;
    static final int WATCHED = 2;
    static final int DRAINING = 3;
    static final int CLOSED = 4;
    /** Taken from the idle set by a pool thread (never a lease holder) to look at, retire or close; counted idle. */
    static final int HELD = 5;
    /**
     * Retiring by a policy that awaits the peer, still owned by the thread retiring it (its goodbye
     * runs); counted draining, left alone by the housekeeper until it is DRAINING.
     */
    static final int RETIRING = 6;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(PooledEntry.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final EndpointPool<C> pool;
    final C connection;
    /** The socket under the connection, asked of the connector when first needed (it may connect late). */
    private SocketChannel channel;
    final long createdAt;
    final long lifetimeNanos;

    private volatile int state = LEASED;

    /** When it last became idle; written before the volatile move to IDLE, read after winning a CAS. */
    long idleSince;
    /** When it was leased; volatile because the housekeeper reads it for leak detection. */
    volatile long leasedAt;
    /** Where it was leased, only when leak detection is on. */
    volatile Throwable leasedFrom;
    boolean leakReported;

    /**
     * The socket is held with SO_LINGER 0 (set once, when the pool first sees it open): a close
     * behind the pool's back is an RST.
     */
    boolean heldForAbort;
    /** Set by the current lease's abort: the socket was closed with RST outside the close path. */
    volatile boolean aborted;
    /** A holder's call failed as a reset does: a close that finds only an end of stream is an abort. */
    volatile boolean lostUnderCall;

    /** Leases served so far, for the lease budget; touched by the owner only. */
    int leaseCount;
    /** This lease is the connection's last: the protocol should ask the peer to close. */
    boolean lastUse;

    /** Set once, when the entry stops counting against the pool's limits. */
    boolean uncounted;
    /** When draining began (ticker time), for the drain timeout. */
    long drainingSince;
    /** Why it is draining, reported when it finally closes. */
    io.github.portkeeper.core.CloseReason retireReason;
    /**
     * Whether the peer's FIN that ends this drain may be the server's own idle close, to be
     * learned from. Not when the pool asked for it (a goodbye was sent): that FIN answers the
     * goodbye within a round trip. Set before the move to DRAINING.
     */
    boolean finTeaches;
    /**
     * The channel was in non-blocking mode before the watcher took it (its connector keeps it
     * so, reading and waiting without mode switches): a leaser taking it back leaves it so.
     * Written by the watcher before the entry becomes WATCHED, read by whoever wins it back.
     */
    boolean keepNonBlocking;
    /** Watcher bookkeeping, touched only by the watcher thread. */
    Object watchKey;

    PooledEntry(EndpointPool<C> pool, C connection, long createdAt, long lifetimeNanos) {
        this.pool = pool;
        this.connection = connection;
        this.createdAt = createdAt;
        this.lifetimeNanos = lifetimeNanos;
    }

    /**
     * The connection's socket, or null. Read only by the thread that owns the entry (its state
     * moves are the happens-before edges), so caching it needs no synchronisation.
     *
     * <p>The first time it is seen it is held for abort: at open for a connector that connects
     * eagerly, later for one that connects late (http's: the socket comes with the first
     * exchange), so that either way a close behind the pool's back is an RST and is recorded as
     * one. A socket first seen already closed cannot be asked; its close counts by
     * {@link io.github.portkeeper.core.Connector#wasEstablished}, as before.
     */
    SocketChannel channel() {
        SocketChannel c = channel;
        if (c == null) {
            c = pool.engine.connector().channel(connection);
            if (c != null) {
                heldForAbort = SocketCloser.holdForAbort(c);
            }
            channel = c;
        }
        return c;
    }

    int state() {
        return state;
    }

    // Named transitions. Moves out of IDLE and WATCHED race (leasers, the dispatcher, the
    // housekeeper, the evictor, pool close) and are CASes; moves out of LEASED and HELD are made
    // by the single owner and are plain volatile writes. The owner's writes below (claim2...)
    // apply to a HELD entry as to a LEASED one.

    /** IDLE → LEASED: a leaser (or the dispatcher, for a waiter) wins the idle connection and owns it. */
    boolean idle2claim() {
        return STATE.compareAndSet(this, IDLE, LEASED);
    }

    /**
     * IDLE → HELD: a pool thread wins the idle connection to retire or close it (housekeeping's
     * expiry, retireIdle, the evictor, pool close). Not a lease: the stats go on counting it idle.
     */
    boolean idle2held() {
        return STATE.compareAndSet(this, IDLE, HELD);
    }

    /** IDLE → WATCHED: the watcher takes the idle connection to register it for readiness. */
    boolean idle2watched() {
        return STATE.compareAndSet(this, IDLE, WATCHED);
    }

    /** WATCHED → LEASED: a leaser takes a watched connection back (pool threads use {@link #watched2held}); the winner reads it. */
    boolean watched2claim() {
        return STATE.compareAndSet(this, WATCHED, LEASED);
    }

    /**
     * WATCHED → HELD: the watcher takes a watched connection that became readable (or that it is
     * registering), or a pool thread takes one back to retire or close it; the winner reads it.
     * It leaves (DRAINING, CLOSED) or goes back ({@link #held2watched}); counted idle meanwhile.
     */
    boolean watched2held() {
        return STATE.compareAndSet(this, WATCHED, HELD);
    }

    /** HELD → WATCHED: the watcher gives back a watched connection it took on a readiness that turned out empty. */
    void held2watched() {
        state = WATCHED;
    }

    /** LEASED → IDLE: the owner publishes the connection for reuse. */
    void claim2idle() {
        state = IDLE;
    }

    /**
     * LEASED or HELD → RETIRING: the owner retires it to await the peer and says the protocol's
     * goodbye first; counted draining from now on, though the owner keeps it until
     * {@link #claim2draining}.
     */
    void claim2retiring() {
        state = RETIRING;
    }

    /** LEASED, HELD or RETIRING → DRAINING: retiring, awaiting the peer; the housekeeper's from now on. */
    void claim2draining() {
        state = DRAINING;
    }

    /** Any state → CLOSED, on the close path only: the socket is closed, the entry is gone. */
    void claim2dead() {
        state = CLOSED;
    }

    /** A raw CAS, kept for the housekeeper; new code should use a named transition. */
    boolean casState(int expected, int next) {
        return STATE.compareAndSet(this, expected, next);
    }

    /** A raw write, kept for the housekeeper; new code should use a named transition. */
    void setState(int next) {
        state = next;
    }

    /** Readies the entry for a new lease by its owner. */
    void prepareLease() {
        if (aborted) {
            aborted = false; // a volatile write is a full fence: only when there is something to clear
        }
        if (lostUnderCall) {
            lostUnderCall = false;
        }
        this.leaseCount++;
    }

    boolean isExpired(long now) {
        return now - createdAt >= lifetimeNanos;
    }

    @Override
    public String toString() {
        return "PooledEntry{" + pool.endpoint + ", state=" + stateName(state) + "}";
    }

    static String stateName(int state) {
        switch (state) {
            case IDLE: return "IDLE";
            case LEASED: return "LEASED";
            case WATCHED: return "WATCHED";
            case DRAINING: return "DRAINING";
            case CLOSED: return "CLOSED";
            case HELD: return "HELD";
            case RETIRING: return "RETIRING";
            default: return "UNKNOWN(" + state + ")";
        }
    }
}
