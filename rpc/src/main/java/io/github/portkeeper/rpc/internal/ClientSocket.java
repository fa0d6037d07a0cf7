package io.github.portkeeper.rpc.internal;

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
 * The {@link Socket} a user's client is built around: a view of a pooled connection's socket.
 * Its streams note I/O errors and the peer's end of stream (the connection is then discarded
 * rather than reused); closing it only marks the connection for discarding, and anything that
 * would decide how the connection closes (SO_LINGER, half-close) is refused: that is the pool's
 * decision. It owns no descriptor of its own.
 */
final class ClientSocket extends Socket {

    private final Socket delegate;
    private final InputStream in;
    private final OutputStream out;
    volatile boolean damaged;
    volatile boolean closedByClient;

    ClientSocket(Socket delegate) throws SocketException {
        super((SocketImpl) null);
        this.delegate = delegate;
        this.in = new GuardedInput();
        this.out = new GuardedOutput();
    }

    private IOException damage(IOException e) {
        damaged = true;
        return e;
    }

    @Override
    public InputStream getInputStream() throws IOException {
        return in;
    }

    @Override
    public OutputStream getOutputStream() throws IOException {
        return out;
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

    @Override
    public boolean isConnected() {
        return true;
    }

    @Override
    public boolean isBound() {
        return true;
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

    /** None: the pool owns the channel's blocking mode and its registration with the idle watcher. */
    @Override
    public SocketChannel getChannel() {
        return null;
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
        delegate.setSoTimeout(timeout);
    }

    @Override
    public int getSoTimeout() throws SocketException {
        return delegate.getSoTimeout();
    }

    @Override
    public void setTcpNoDelay(boolean on) throws SocketException {
        delegate.setTcpNoDelay(on);
    }

    @Override
    public boolean getTcpNoDelay() throws SocketException {
        return delegate.getTcpNoDelay();
    }

    @Override
    public void setKeepAlive(boolean on) throws SocketException {
        delegate.setKeepAlive(on);
    }

    @Override
    public boolean getKeepAlive() throws SocketException {
        return delegate.getKeepAlive();
    }

    /** Refused: how the connection closes is the pool's retirement policy. */
    @Override
    public void setSoLinger(boolean on, int linger) throws SocketException {
        throw new SocketException("SO_LINGER of a pooled socket is owned by the pool's retirement policy");
    }

    @Override
    public int getSoLinger() throws SocketException {
        return delegate.getSoLinger();
    }

    @Override
    public void setSendBufferSize(int size) throws SocketException {
        delegate.setSendBufferSize(size);
    }

    @Override
    public int getSendBufferSize() throws SocketException {
        return delegate.getSendBufferSize();
    }

    @Override
    public void setReceiveBufferSize(int size) throws SocketException {
        delegate.setReceiveBufferSize(size);
    }

    @Override
    public int getReceiveBufferSize() throws SocketException {
        return delegate.getReceiveBufferSize();
    }

    @Override
    public void setTrafficClass(int tc) throws SocketException {
        delegate.setTrafficClass(tc);
    }

    @Override
    public int getTrafficClass() throws SocketException {
        return delegate.getTrafficClass();
    }

    @Override
    public void setReuseAddress(boolean on) throws SocketException {
        delegate.setReuseAddress(on);
    }

    @Override
    public boolean getReuseAddress() throws SocketException {
        return delegate.getReuseAddress();
    }

    @Override
    public void setOOBInline(boolean on) throws SocketException {
        delegate.setOOBInline(on);
    }

    @Override
    public boolean getOOBInline() throws SocketException {
        return delegate.getOOBInline();
    }

    @Override
    public void sendUrgentData(int data) throws IOException {
        delegate.sendUrgentData(data);
    }

    @Override
    public void setPerformancePreferences(int connectionTime, int latency, int bandwidth) {
        delegate.setPerformancePreferences(connectionTime, latency, bandwidth);
    }

    @Override
    public <V> Socket setOption(SocketOption<V> name, V value) throws IOException {
        if (StandardSocketOptions.SO_LINGER.equals(name)) {
            setSoLinger(true, 0);
        }
        delegate.setOption(name, value);
        return this;
    }

    @Override
    public <V> V getOption(SocketOption<V> name) throws IOException {
        return delegate.getOption(name);
    }

    @Override
    public Set<SocketOption<?>> supportedOptions() {
        return delegate.supportedOptions();
    }

    @Override
    public String toString() {
        return "PooledClientSocket[" + delegate.getLocalSocketAddress() + " -> " + delegate.getRemoteSocketAddress() + "]";
    }

    /** Reads the connection's socket; an error or the peer's end of stream marks it damaged. */
    private final class GuardedInput extends InputStream {
        private final InputStream raw;

        GuardedInput() {
            try {
                this.raw = delegate.getInputStream();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public int read() throws IOException {
            try {
                int b = raw.read();
                if (b < 0) {
                    damaged = true;
                }
                return b;
            } catch (IOException e) {
                throw damage(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                int n = raw.read(b, off, len);
                if (n < 0) {
                    damaged = true;
                }
                return n;
            } catch (IOException e) {
                throw damage(e);
            }
        }

        @Override
        public int available() throws IOException {
            try {
                return raw.available();
            } catch (IOException e) {
                throw damage(e);
            }
        }

        /** Closing the stream is closing the socket: marks the connection for discarding. */
        @Override
        public void close() {
            ClientSocket.this.close();
        }
    }

    /** Writes the connection's socket; an error marks it damaged. */
    private final class GuardedOutput extends OutputStream {
        private final OutputStream raw;

        GuardedOutput() {
            try {
                this.raw = delegate.getOutputStream();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void write(int b) throws IOException {
            try {
                raw.write(b);
            } catch (IOException e) {
                throw damage(e);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            try {
                raw.write(b, off, len);
            } catch (IOException e) {
                throw damage(e);
            }
        }

        @Override
        public void flush() throws IOException {
            try {
                raw.flush();
            } catch (IOException e) {
                throw damage(e);
            }
        }

        @Override
        public void close() {
            ClientSocket.this.close();
        }
    }
}
