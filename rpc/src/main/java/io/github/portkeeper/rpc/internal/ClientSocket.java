package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.internal.SocketView;

import java.io.IOException;
import java.net.Socket;
import java.net.SocketException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@link Socket} a user's client is built around: a view of a pooled connection's socket.
 * Its streams note I/O errors and the peer's end of stream (the connection is then discarded
 * rather than reused; an end of stream after bytes of an answer is the server closing after
 * answering, closed passively and not a failure). Closing it ends the connection's reuse: it is
 * reset when its borrow is given back, and the socket is closed for its client from then on, as
 * a plain socket is. A close while a read or write is in progress on another thread (a watchdog,
 * a timeout handler) aborts the connection with RST at once, which wakes the blocked thread with
 * a {@link SocketException}. Anything that would decide how the connection closes (SO_LINGER,
 * half-close) is refused: that is the pool's decision. It owns no descriptor of its own.
 *
 * <p>Concurrency: {@link SocketView} counts stream calls in progress. A call raises the count
 * before it reads {@link #closedByClient}; {@link #close()} writes {@link #closedByClient} before
 * it reads the count; so either the call sees the close and fails without touching the
 * connection, or the close sees the call and aborts it.
 */
final class ClientSocket extends SocketView {

    volatile boolean damaged;
    volatile boolean closedByClient;
    /** A read met the peer's end of stream after bytes of its answer in this borrow. */
    volatile boolean peerClosed;
    /** A call failed as a reset (or a kernel abort) does. */
    volatile boolean lostUnderCall;
    private final AtomicBoolean closing = new AtomicBoolean();
    /** The borrow in progress (or the last one): a close during a call aborts it. */
    private volatile Lease<?> lease;

    ClientSocket(Socket delegate) throws SocketException {
        super(delegate);
    }

    @Override
    protected Socket open() throws SocketException {
        if (closedByClient) {
            throw new SocketException("Socket is closed");
        }
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
    void borrowed(Lease<?> borrow) {
        lease = borrow;
        newExchange();
    }

    /** A call our own close aborted fails as a plain socket's does when another thread closes it. */
    @Override
    protected boolean closedUnderCall() {
        return closedByClient;
    }

    /**
     * Marks the connection for discarding when its lease ends (with RST); the pool closes the
     * socket. Idempotent. A call in progress on another thread is aborted at once (RST), which
     * wakes it. A close after the borrow was given back aborts nothing: that lease is closed.
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        closedByClient = true;
        if (callInProgress()) {
            damaged = true;
            Lease<?> borrow = lease;
            if (borrow != null) {
                borrow.abort();
            }
        }
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
