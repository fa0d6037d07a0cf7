package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.internal.SocketView;

import java.io.IOException;
import java.net.Socket;
import java.net.SocketException;

/**
 * The {@link Socket} a user's client is built around: a view of a pooled connection's socket.
 * Its streams note I/O errors and the peer's end of stream (the connection is then discarded
 * rather than reused; an end of stream after bytes of an answer is the server closing after
 * answering, closed passively and not a failure); closing it only marks the connection for
 * discarding, and anything that
 * would decide how the connection closes (SO_LINGER, half-close) is refused: that is the pool's
 * decision. It owns no descriptor of its own.
 */
final class ClientSocket extends SocketView {

    volatile boolean damaged;
    volatile boolean closedByClient;
    /** A read met the peer's end of stream after bytes of its answer in this borrow. */
    volatile boolean peerClosed;
    /** A call failed as a reset (or a kernel abort) does. */
    volatile boolean lostUnderCall;

    ClientSocket(Socket delegate) throws SocketException {
        super(delegate);
    }

    /** The client keeps using the socket as long as it lives: its own close only marks it. */
    @Override
    protected Socket open() {
        return delegate;
    }

    @Override
    protected void failed() {
        damaged = true;
    }

    /** After bytes of an answer, the server's close after answering; before any, a failed exchange. */
    @Override
    protected void endOfStream(boolean afterData) {
        if (afterData) {
            peerClosed = true;
        } else {
            damaged = true;
        }
    }

    @Override
    protected void lostUnderCall() {
        lostUnderCall = true;
    }

    /** A borrow begins: only what it reads counts as an answer. */
    void borrowed() {
        newExchange();
    }

    /** Marks the connection for discarding when its lease ends (with RST); the pool closes the socket. */
    @Override
    public void close() {
        closedByClient = true;
    }

    @Override
    public boolean isClosed() {
        return closedByClient || !delegate.getChannel().isOpen();
    }

    /** Refused: a half-close would send our FIN first. */
    @Override
    public void shutdownInput() throws IOException {
        throw new SocketException("shutdownInput of a pooled socket is refused: the pool decides how its connections close");
    }

    /** Refused: a half-close would send our FIN first (a TIME_WAIT on this host). */
    @Override
    public void shutdownOutput() throws IOException {
        throw new SocketException("shutdownOutput of a pooled socket is refused: the pool decides how its connections close");
    }

    @Override
    public String toString() {
        return "PooledClientSocket[" + delegate.getLocalSocketAddress() + " -> " + delegate.getRemoteSocketAddress() + "]";
    }
}
