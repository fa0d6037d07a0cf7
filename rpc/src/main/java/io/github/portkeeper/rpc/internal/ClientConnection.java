package io.github.portkeeper.rpc.internal;

import java.net.Socket;
import java.nio.channels.SocketChannel;

/**
 * A pooled connection carrying a user's own blocking client, built once around the connection's
 * guarded socket and kept for the connection's life.
 *
 * @param <T> the user's client type
 */
public final class ClientConnection<T> {

    final SocketChannel channel;
    final ClientSocket socket;
    T client;
    /** SO_TIMEOUT at the start of every borrow: the pool's read timeout, or what the client factory set. */
    int borrowTimeoutMillis;

    ClientConnection(SocketChannel channel) throws java.net.SocketException {
        this.channel = channel;
        this.socket = new ClientSocket(channel.socket());
    }

    /** The user's client. */
    public T client() {
        return client;
    }

    /** A borrow of this connection begins, under {@code lease}. */
    public void borrowed(io.github.portkeeper.core.Lease<?> lease) {
        socket.borrowed(lease);
    }

    /**
     * Whether the client's stream hit an I/O error, or the peer's end of stream before any answer
     * in this borrow: not reusable, and broken. A client that closed its socket is too, unless
     * the server had closed after its answer ({@link #peerClosedAfterAnswer()}).
     */
    public boolean isDamaged() {
        return socket.damaged || (socket.closedByClient && !socket.peerClosed);
    }

    /**
     * Whether a call of the client failed as a reset (or a kernel abort) does: the pool's close,
     * finding only an end of stream, must record an abort, not the peer's FIN.
     */
    public boolean lostUnderCall() {
        return socket.lostUnderCall;
    }

    /**
     * Whether the server closed after its answer: the client read the end of stream after bytes
     * of the answer, with no I/O error. Not reusable, but not a failure: its close is passive.
     */
    public boolean peerClosedAfterAnswer() {
        return socket.peerClosed && !socket.damaged;
    }

    /**
     * Resets SO_TIMEOUT, when the connection is given back, to what it was when the client was
     * built: the pool's read timeout, or the client factory's own if it set one.
     */
    public void restoreTimeout() throws java.net.SocketException {
        Socket s = channel.socket();
        if (s.getSoTimeout() != borrowTimeoutMillis) {
            s.setSoTimeout(borrowTimeoutMillis);
        }
    }
}
