package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.internal.LeaseHandle;
import io.github.portkeeper.rpc.internal.ClientConnection;

import java.net.SocketException;

/**
 * A client borrowed from a {@link SocketClientPool}. Closing it gives the connection back: reused
 * if it is in step; discarded if its stream hit an error or the end of stream before any answer,
 * or if it was marked broken; closed passively, as the server's close, if the server closed
 * after its answer (the client read the end of stream after bytes of it). Use it in try-with-resources, from one thread.
 *
 * @param <T> the client type
 */
public final class PooledClient<T> implements AutoCloseable {

    private final Lease<ClientConnection<T>> lease;
    private final ClientConnection<T> connection;
    private boolean closed;

    PooledClient(Lease<ClientConnection<T>> lease) {
        this.lease = lease;
        this.connection = lease.connection();
        connection.borrowed(lease);
    }

    /**
     * The client, the same instance for every borrow of this connection.
     *
     * @return the client built by the pool's factory
     * @throws IllegalStateException if this borrow was already given back
     */
    public T get() {
        if (closed) {
            throw new IllegalStateException("pooled client of " + lease.endpoint() + " was given back");
        }
        return connection.client();
    }

    /**
     * The endpoint the client is connected to.
     *
     * @return the endpoint it was borrowed for
     */
    public Endpoint endpoint() {
        return lease.endpoint();
    }

    /**
     * Whether the connection was reused from the pool rather than opened for this borrow. A
     * reused connection may have been closed by the server while idle; a protocol that cannot
     * tell should retry a failed first exchange on a fresh borrow.
     *
     * @return {@code true} if reused, {@code false} if newly connected
     */
    public boolean isReused() {
        return lease.isReused();
    }

    /**
     * Discards the connection when it is given back (with RST, no TIME_WAIT, unless the retirement
     * policy is {@code LOCAL}). Call it when the
     * exchange failed in a way the socket could not see (a response the client could not parse, a
     * timeout the client handled).
     */
    public void markBroken() {
        lease.markBroken();
    }

    /**
     * Retires the connection when it is given back: it leaves by the pool's retirement policy
     * (the goodbye, if one was given, then the peer's FIN).
     */
    public void retire() {
        lease.retire();
    }

    /** Gives the connection back. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (connection.isDamaged()) {
            if (connection.lostUnderCall()) {
                LeaseHandle.markLostUnderCall(lease); // a reset the client saw: its close is an abort
            }
            lease.markBroken();
        } else if (connection.peerClosedAfterAnswer()) {
            LeaseHandle.markPeerClosed(lease); // closed passively at once, the request counted as served
        } else {
            try {
                connection.restoreTimeout();
            } catch (SocketException e) {
                lease.markBroken();
            }
        }
        lease.close();
    }

    @Override
    public String toString() {
        return "PooledClient{" + lease.endpoint() + (closed ? ", returned" : "") + "}";
    }
}
