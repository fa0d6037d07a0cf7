package io.github.portkeeper.core.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketImpl;
import java.net.SocketOption;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link Socket} that is a view of a pooled connection's socket: it owns no descriptor, hands
 * out streams that report I/O errors and the peer's end of stream (the connection must then not
 * be reused; an end of stream after an answer is the server's close, not a failure), and refuses
 * what would decide how the connection closes (SO_LINGER: the pool's retirement policy owns
 * that). Subclasses say what closing the view means and what a failure marks. Shared by the core socket pool and the rpc module's client adapter.
 *
 * <p>Like a plain socket, one instance is meant for one thread at a time.
 */
public abstract class SocketView extends Socket {

    protected final Socket delegate;
    private final InputStream in = new GuardedInput();
    private final OutputStream out = new GuardedOutput();
    private InputStream rawIn;
    private OutputStream rawOut;
    private final AtomicInteger callsInProgress = new AtomicInteger();
    /** A read returned bytes since {@link #newExchange()}; volatile for a view that writes on another thread. */
    private volatile boolean received;

    protected SocketView(Socket delegate) throws SocketException {
        super((SocketImpl) null);
        this.delegate = delegate;
    }

    /** The connected socket, or a {@link SocketException} if this view was closed. */
    protected abstract Socket open() throws SocketException;

    /** The stream is out of step or dead (an I/O error). */
    protected abstract void failed();

    /**
     * A read met the peer's end of stream: the connection must not be reused. {@code afterData}:
     * a read returned bytes since the last {@link #newExchange()} (or since this view was made),
     * so the peer closed after (part of) its answer, the server-closes-first case; without, the
     * request got no answer at all (a stale connection) and the exchange failed. By default, as
     * {@link #failed()}.
     */
    protected void endOfStream(boolean afterData) {
        failed();
    }

    /**
     * An exchange starts: bytes read before now no longer count as an answer for
     * {@link #endOfStream(boolean)}. For a view that outlives one lease; a view made per lease
     * starts fresh.
     */
    protected final void newExchange() {
        received = false;
    }

    @Override
    public abstract void close();

    /**
     * A stream call (read, write, flush, {@code available}, urgent data) is starting, before it
     * checks that this view is open: counted, so a close from another thread can tell whether
     * it must abort a call in progress (the call raises the count before it reads the view's
     * closed state; a close writes that state before it reads the count: one sees the other).
     */
    private void beginCall() {
        callsInProgress.incrementAndGet();
    }

    /** The call {@link #beginCall()} announced has ended, however it ended. */
    private void endCall() {
        callsInProgress.decrementAndGet();
    }

    /** Whether a stream call is in progress (on another thread, when asked from a close). */
    protected final boolean callInProgress() {
        return callsInProgress.get() > 0;
    }

    /**
     * Whether this view's own close, from another thread, is what a failing call met. Such a
     * call fails as a plain socket's does when another thread closes it, with a
     * {@link SocketException}, not the channel's {@code AsynchronousCloseException}. An
     * interrupt's {@code ClosedByInterruptException} met without a close of ours stays as it is.
     */
    protected boolean closedUnderCall() {
        return false;
    }

    /** The exception a failed stream call throws, after {@link #failed()}. */
    private IOException failure(IOException e) {
        if (closedUnderCall() && !(e instanceof SocketException)) {
            SocketException closedUnderIt = new SocketException("Socket closed");
            closedUnderIt.initCause(e);
            return closedUnderIt;
        }
        return e;
    }

    /** The delegate's input stream, fetched once (the JDK makes a new wrapper on every call). */
    private InputStream rawIn() throws IOException {
        Socket s = open();
        InputStream r = rawIn;
        if (r == null) {
            r = s.getInputStream();
            rawIn = r;
        }
        return r;
    }

    private OutputStream rawOut() throws IOException {
        Socket s = open();
        OutputStream r = rawOut;
        if (r == null) {
            r = s.getOutputStream();
            rawOut = r;
        }
        return r;
    }

    private IOException failed(IOException e) {
        if (!(e instanceof SocketTimeoutException) && !(e instanceof ClosedChannelException)) {
            lostUnderCall();
        }
        failed();
        return failure(e);
    }

    /**
     * A call failed with an I/O error that is neither a timeout nor a close of the channel: the
     * peer reset the connection, or this host's kernel aborted it. The call that saw it consumed
     * the socket's error, so a later look for the peer's FIN finds an end of stream and would take
     * it for a FIN: a subclass remembers it here, so the close is recorded as an abort. Nothing
     * by default; {@link #failed()} follows.
     */
    protected void lostUnderCall() {
    }

    /**
     * Fetches the delegate's streams now: the JDK refuses them once a direction is shut down, yet
     * a stream handed out before must still read end of stream (or fail a write) as a plain
     * socket's does. For a subclass to call before it shuts a direction down.
     */
    protected final void fetchRawStreams() throws IOException {
        rawIn();
        rawOut();
    }

    /** As a plain socket's: refused once closed or once input is shut down. */
    @Override
    public InputStream getInputStream() throws IOException {
        open();
        if (isInputShutdown()) {
            throw new SocketException("Socket input is shutdown");
        }
        return in;
    }

    /** As a plain socket's: refused once closed or once output is shut down. */
    @Override
    public OutputStream getOutputStream() throws IOException {
        open();
        if (isOutputShutdown()) {
            throw new SocketException("Socket output is shutdown");
        }
        return out;
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

    /** None: the pool owns the channel's blocking mode and its registration with the idle watcher. */
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
    public boolean isInputShutdown() {
        return delegate.isInputShutdown();
    }

    @Override
    public boolean isOutputShutdown() {
        return delegate.isOutputShutdown();
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

    /** Refused: how the connection closes is the pool's retirement policy. */
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
        beginCall();
        try {
            Socket s = open();
            try {
                s.sendUrgentData(data);
            } catch (IOException e) {
                throw failed(e);
            }
        } finally {
            endCall();
        }
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

    private final class GuardedInput extends InputStream {

        @Override
        public int read() throws IOException {
            beginCall();
            try {
                InputStream raw = rawIn();
                try {
                    int b = raw.read();
                    if (b < 0) {
                        endOfStream(received);
                    } else {
                        received = true;
                    }
                    return b;
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            beginCall();
            try {
                InputStream raw = rawIn();
                try {
                    int n = raw.read(b, off, len);
                    if (n < 0) {
                        endOfStream(received);
                    } else if (n > 0) {
                        received = true;
                    }
                    return n;
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        @Override
        public int available() throws IOException {
            beginCall();
            try {
                InputStream raw = rawIn();
                try {
                    return raw.available();
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        /** Closing the stream closes the socket, as with a plain socket. */
        @Override
        public void close() {
            SocketView.this.close();
        }
    }

    private final class GuardedOutput extends OutputStream {

        @Override
        public void write(int b) throws IOException {
            beginCall();
            try {
                OutputStream raw = rawOut();
                try {
                    raw.write(b);
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            beginCall();
            try {
                OutputStream raw = rawOut();
                try {
                    raw.write(b, off, len);
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        @Override
        public void flush() throws IOException {
            beginCall();
            try {
                OutputStream raw = rawOut();
                try {
                    raw.flush();
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        /** Closing the stream closes the socket, as with a plain socket. */
        @Override
        public void close() {
            SocketView.this.close();
        }
    }
}
