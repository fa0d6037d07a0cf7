package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Lease;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketImpl;
import java.net.SocketOption;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.util.Set;

/**
 * The {@link Socket} handed out by {@code SocketPool}: a view of a leased, connected socket.
 * Closing it (or either of its streams) gives the connection back; an I/O error or the peer's
 * end of stream marks it broken so it is never reused. It owns no descriptor of its own.
 *
 * <p>Like a plain socket, one instance is meant for one thread at a time.
 */
public final class PooledSocket extends Socket {

    private final Lease<SocketChannel> lease;
    private final Socket delegate;
    private final int defaultTimeout;
    private final InputStream in;
    private final OutputStream out;
    private final java.util.concurrent.atomic.AtomicBoolean closing = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile boolean closed;

    public PooledSocket(Lease<SocketChannel> lease, int defaultTimeout) throws SocketException {
        super((SocketImpl) null);
        this.lease = lease;
        this.delegate = lease.connection().socket();
        this.defaultTimeout = defaultTimeout;
        this.in = new GuardedInput();
        this.out = new GuardedOutput();
    }

    private Socket open() throws SocketException {
        if (closed) {
            throw new SocketException("Socket is closed");
        }
        return delegate;
    }

    /** Marks the connection broken, unless this socket was already given back (the lease may be someone else's now). */
    private IOException broken(IOException e) {
        if (!closed) {
            lease.markBroken();
        }
        return e;
    }

    @Override
    public InputStream getInputStream() throws IOException {
        open();
        return in;
    }

    @Override
    public OutputStream getOutputStream() throws IOException {
        open();
        return out;
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

    @Override
    public boolean isConnected() {
        return true;
    }

    @Override
    public boolean isBound() {
        return true;
    }

    @Override
    public void connect(SocketAddress endpoint) throws IOException {
        throw new SocketException("Pooled socket is already connected");
    }

    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
        throw new SocketException("Pooled socket is already connected");
    }

    @Override
    public void bind(SocketAddress bindpoint) throws IOException {
        throw new SocketException("Pooled socket is already bound");
    }

    /** Pooled sockets expose no channel: the pool owns the channel's blocking mode and registration. */
    @Override
    public SocketChannel getChannel() {
        return null;
    }

    @Override
    public InetAddress getInetAddress() {
        return delegate.getInetAddress();
    }

    @Override
    public InetAddress getLocalAddress() {
        return delegate.getLocalAddress();
    }

    @Override
    public int getPort() {
        return delegate.getPort();
    }

    @Override
    public int getLocalPort() {
        return delegate.getLocalPort();
    }

    @Override
    public SocketAddress getRemoteSocketAddress() {
        return delegate.getRemoteSocketAddress();
    }

    @Override
    public SocketAddress getLocalSocketAddress() {
        return delegate.getLocalSocketAddress();
    }

    @Override
    public void setSoTimeout(int timeout) throws SocketException {
        open().setSoTimeout(timeout);
    }

    @Override
    public int getSoTimeout() throws SocketException {
        return open().getSoTimeout();
    }

    @Override
    public void setTcpNoDelay(boolean on) throws SocketException {
        open().setTcpNoDelay(on);
    }

    @Override
    public boolean getTcpNoDelay() throws SocketException {
        return open().getTcpNoDelay();
    }

    @Override
    public void setKeepAlive(boolean on) throws SocketException {
        open().setKeepAlive(on);
    }

    @Override
    public boolean getKeepAlive() throws SocketException {
        return open().getKeepAlive();
    }

    /** Refused: how the connection closes is the pool's decision (see its retirement policy). */
    @Override
    public void setSoLinger(boolean on, int linger) throws SocketException {
        throw new SocketException("SO_LINGER of a pooled socket is owned by the pool's retirement policy");
    }

    @Override
    public int getSoLinger() throws SocketException {
        return open().getSoLinger();
    }

    @Override
    public void setSendBufferSize(int size) throws SocketException {
        open().setSendBufferSize(size);
    }

    @Override
    public int getSendBufferSize() throws SocketException {
        return open().getSendBufferSize();
    }

    @Override
    public void setReceiveBufferSize(int size) throws SocketException {
        open().setReceiveBufferSize(size);
    }

    @Override
    public int getReceiveBufferSize() throws SocketException {
        return open().getReceiveBufferSize();
    }

    @Override
    public void setTrafficClass(int tc) throws SocketException {
        open().setTrafficClass(tc);
    }

    @Override
    public int getTrafficClass() throws SocketException {
        return open().getTrafficClass();
    }

    @Override
    public void setReuseAddress(boolean on) throws SocketException {
        open().setReuseAddress(on);
    }

    @Override
    public boolean getReuseAddress() throws SocketException {
        return open().getReuseAddress();
    }

    @Override
    public void setOOBInline(boolean on) throws SocketException {
        open().setOOBInline(on);
    }

    @Override
    public boolean getOOBInline() throws SocketException {
        return open().getOOBInline();
    }

    @Override
    public void sendUrgentData(int data) throws IOException {
        try {
            open().sendUrgentData(data);
        } catch (IOException e) {
            throw broken(e);
        }
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
    public boolean isInputShutdown() {
        return delegate.isInputShutdown();
    }

    @Override
    public boolean isOutputShutdown() {
        return delegate.isOutputShutdown();
    }

    @Override
    public <T> Socket setOption(SocketOption<T> name, T value) throws IOException {
        if (name == StandardSocketOptions.SO_LINGER) {
            setSoLinger(true, 0);
        }
        open().setOption(name, value);
        return this;
    }

    @Override
    public <T> T getOption(SocketOption<T> name) throws IOException {
        return open().getOption(name);
    }

    @Override
    public Set<SocketOption<?>> supportedOptions() {
        return delegate.supportedOptions();
    }

    @Override
    public void setPerformancePreferences(int connectionTime, int latency, int bandwidth) {
        // Ignored, as by the JDK's own socket implementations.
    }

    @Override
    public String toString() {
        return "PooledSocket[" + lease.endpoint() + (closed ? ", closed" : ", local port " + delegate.getLocalPort()) + "]";
    }

    private final class GuardedInput extends InputStream {

        private InputStream stream() throws IOException {
            return open().getInputStream();
        }

        @Override
        public int read() throws IOException {
            try {
                int b = stream().read();
                if (b < 0) {
                    broken(null);
                }
                return b;
            } catch (IOException e) {
                throw broken(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                int n = stream().read(b, off, len);
                if (n < 0) {
                    broken(null);
                }
                return n;
            } catch (IOException e) {
                throw broken(e);
            }
        }

        @Override
        public int available() throws IOException {
            try {
                return stream().available();
            } catch (IOException e) {
                throw broken(e);
            }
        }

        /** Closing the stream closes the socket, as with a plain socket: the connection goes back. */
        @Override
        public void close() {
            PooledSocket.this.close();
        }
    }

    private final class GuardedOutput extends OutputStream {

        private OutputStream stream() throws IOException {
            return open().getOutputStream();
        }

        @Override
        public void write(int b) throws IOException {
            try {
                stream().write(b);
            } catch (IOException e) {
                throw broken(e);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            try {
                stream().write(b, off, len);
            } catch (IOException e) {
                throw broken(e);
            }
        }

        @Override
        public void flush() throws IOException {
            try {
                stream().flush();
            } catch (IOException e) {
                throw broken(e);
            }
        }

        /** Closing the stream closes the socket, as with a plain socket: the connection goes back. */
        @Override
        public void close() {
            PooledSocket.this.close();
        }
    }
}
