package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Lease;

import java.io.IOException;
import java.net.Socket;
import java.net.SocketException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@link Socket} handed out by {@code SocketPool}: a view of a leased, connected socket.
 * Closing it (or either of its streams) gives the connection back; an I/O error marks it broken
 * so it is never reused. The peer's end of stream also ends its reuse: read after bytes of an
 * answer, it is the server closing after answering (closed passively, the request counted as
 * served); read before any byte of one, the request failed (broken). It owns no descriptor of
 * its own.
 *
 * <p>Like a plain socket, one instance is meant for one thread at a time, except that
 * {@link #close()} may come from another thread to cancel a read or write in progress (a
 * watchdog, a timeout handler): that aborts the connection with RST, which wakes the blocked
 * thread, and the connection is never reused.
 *
 * <p>Concurrency: {@link SocketView} counts stream calls in progress. A call raises the count
 * before it reads {@link #closed}; {@link #close()} writes {@link #closed} before it reads the
 * count; so either the call sees the close and fails without touching the connection, or the
 * close sees the call and aborts it.
 */
public final class PooledSocket extends SocketView {

    private final Lease<SocketChannel> lease;
    private final int defaultTimeout;
    private final AtomicBoolean closing = new AtomicBoolean();
    private volatile boolean closed;
    /** Set by a close that aborted a call in progress; read by that call's failure. */
    private volatile boolean aborted;

    public PooledSocket(Lease<SocketChannel> lease, int defaultTimeout) throws SocketException {
        super(lease.connection().socket());
        this.lease = lease;
        this.defaultTimeout = defaultTimeout;
    }

    @Override
    protected Socket open() throws SocketException {
        if (closed) {
            throw new SocketException("Socket is closed");
        }
        return delegate;
    }

    /** Marks the connection broken, unless this socket was already given back (the lease may be someone else's now). */
    @Override
    protected void failed() {
        if (!closed) {
            lease.markBroken();
        }
    }

    /**
     * The peer's end of stream. After bytes of an answer on this lease, the server closed after
     * answering: the connection is closed passively on release and the request counts as served.
     * Before any, the request got no answer: broken.
     */
    @Override
    protected void endOfStream(boolean afterData) {
        if (closed) {
            return;
        }
        if (afterData) {
            LeaseHandle.markPeerClosed(lease);
        } else {
            lease.markBroken();
        }
    }

    /** Remembered on the connection: its close, finding only an end of stream, is an abort. */
    @Override
    protected void lostUnderCall() {
        if (!closed) {
            LeaseHandle.markLostUnderCall(lease);
        }
    }

    /** A call our own close aborted fails as a plain socket's does when another thread closes it. */
    @Override
    protected boolean closedUnderCall() {
        return aborted;
    }

    /**
     * Gives the connection back to the pool (or discards it if it broke). Idempotent. A close
     * while a read or write is in progress on another thread aborts the lease instead: the
     * stream is out of step, and the RST (no TIME_WAIT) is also what wakes the blocked thread.
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        closed = true;
        if (callInProgress()) {
            aborted = true;
            lease.abort();
            lease.close();
            return;
        }
        try {
            if (delegate.getSoTimeout() != defaultTimeout) {
                delegate.setSoTimeout(defaultTimeout);
            }
        } catch (SocketException e) {
            lease.markBroken();
        }
        lease.close();
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    /** Shutting a direction down ends the connection's reuse: it is discarded when closed. */
    @Override
    public void shutdownInput() throws IOException {
        Socket s = open();
        lease.markBroken();
        fetchRawStreams(); // a stream handed out before still reads end of stream
        s.shutdownInput();
    }

    /** Shutting a direction down ends the connection's reuse: it is discarded when closed. */
    @Override
    public void shutdownOutput() throws IOException {
        Socket s = open();
        lease.markBroken();
        fetchRawStreams();
        s.shutdownOutput();
    }

    @Override
    public String toString() {
        return "PooledSocket[" + lease.endpoint() + (closed ? ", closed" : ", local port " + delegate.getLocalPort()) + "]";
    }
}
