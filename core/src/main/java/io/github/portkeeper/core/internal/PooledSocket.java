package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Lease;

import java.io.IOException;
import java.net.Socket;
import java.net.SocketException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@link Socket} handed out by {@code SocketPool}: a view of a leased, connected socket.
 * Closing it (or either of its streams) gives the connection back; an I/O error or the peer's
 * end of stream marks it broken so it is never reused. It owns no descriptor of its own.
 *
 * <p>Like a plain socket, one instance is meant for one thread at a time.
 */
public final class PooledSocket extends SocketView {

    private final Lease<SocketChannel> lease;
    private final int defaultTimeout;
    private final AtomicBoolean closing = new AtomicBoolean();
    private volatile boolean closed;

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

    /** Gives the connection back to the pool (or discards it if it broke). Idempotent. */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        closed = true;
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
        s.shutdownInput();
    }

    /** Shutting a direction down ends the connection's reuse: it is discarded when closed. */
    @Override
    public void shutdownOutput() throws IOException {
        Socket s = open();
        lease.markBroken();
        s.shutdownOutput();
    }

    @Override
    public String toString() {
        return "PooledSocket[" + lease.endpoint() + (closed ? ", closed" : ", local port " + delegate.getLocalPort()) + "]";
    }
}
