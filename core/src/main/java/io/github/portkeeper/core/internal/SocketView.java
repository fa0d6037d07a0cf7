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
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.util.Set;

/**
 * A {@link Socket} that is a view of a pooled connection's socket: it owns no descriptor, hands
 * out streams that report I/O errors and the peer's end of stream (the connection must then not
 * be reused; an end of stream after an answer is the server's close, not a failure), and refuses
 * what would decide how the connection closes (SO_LINGER: the pool's retirement policy owns
 * that). Subclasses say what closing the view means and what a failure marks. Shared by the core socket pool and the rpc module's client adapter.
 *
 * <p>The streams and the bookkeeping of their calls are {@link SocketViewStreams}; this class is
 * the rest of the {@link Socket} API, forwarded to the delegate or refused, and the hooks.
 *
 * <p>Like a plain socket, one instance is meant for one thread at a time.
 */
public abstract class SocketView extends Socket {

    protected final Socket delegate;
    private final SocketViewStreams streams = new SocketViewStreams(this);

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
        streams.newExchange();
    }

    @Override
    public abstract void close();

    /**
     * Whether a stream call (read, write, flush, {@code available}, urgent data) is in progress
     * (on another thread, when asked from a close). A call is counted before it checks that this
     * view is open, and a close writes its closed state before it asks: one sees the other.
     */
    protected final boolean callInProgress() {
        return streams.callInProgress();
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
        streams.fetchRawStreams();
    }

    /** As a plain socket's: refused once closed or once input is shut down. */
    @Override
    public InputStream getInputStream() throws IOException {
        open();
        if (isInputShutdown()) {
            throw new SocketException("Socket input is shutdown");
        }
        return streams.in();
    }

    /** As a plain socket's: refused once closed or once output is shut down. */
    @Override
    public OutputStream getOutputStream() throws IOException {
        open();
        if (isOutputShutdown()) {
            throw new SocketException("Socket output is shutdown");
        }
        return streams.out();
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
        streams.sendUrgentData(data);
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
}
