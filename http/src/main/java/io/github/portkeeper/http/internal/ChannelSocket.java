package io.github.portkeeper.http.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketImpl;
import java.net.SocketOption;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.function.Consumer;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The socket HttpClient gets for a pooled connection: a {@link SocketChannel} that stays in
 * non-blocking mode once connected. Why: the JDK's own adaptor ({@link SocketChannel#socket()})
 * switches its channel to non-blocking mode and back around every read that has a timeout (four
 * system calls), and the pool's readiness check at lease would switch it twice more. Here reads
 * and writes are non-blocking, a wait for readiness (bounded by the socket timeout) is one poll
 * of a selector this connection owns, opened at its first wait and closed with the socket (two
 * more descriptors per connection), and the pool's idle watcher and lease check use the channel
 * as it is.
 *
 * <p>The pieces: {@link ChannelStreams} reads and writes, {@link ReadinessWaiter} waits for
 * readiness and closes, {@link FirstReadPolicy} decides whether a reply is read or waited for
 * first; this class is the {@link Socket} around them.
 *
 * <p>Everything else (options, addresses, shutdowns) is the adaptor's. Closing the channel from
 * elsewhere (the pool aborting a lease) does not wake a waiter by itself: {@link #close()} does,
 * and a wait never sleeps longer than {@link ReadinessWaiter#WAIT_SLICE_MILLIS} without looking
 * whether the channel is still open.
 *
 * <p>Virtual threads: waits are serialised with a {@link ReentrantLock}, never a monitor of ours,
 * but what a virtual thread does inside {@link Selector#select(Consumer, long)} is the JDK's
 * selector's doing (Linux, {@code sun.nio.ch.EPollSelectorImpl.doSelect}). On JDK 25 it parks the
 * virtual thread until the JDK's poller sees the selector ready or the wait's time is up, and the
 * carrier runs other virtual threads (shown by a test on JDK 25). On JDK 21 it blocks the carrier
 * in {@code epoll_wait}, inside {@code jdk.internal.misc.Blocker.begin}/{@code end}: compensated
 * blocking, where the scheduler may add a carrier for the time of the wait, up to
 * {@code jdk.virtualThreadScheduler.maxPoolSize}; that is read from JDK 21's source, not
 * measured, and JDK 22 to 24 are taken to behave as 21 (not read separately).
 */
final class ChannelSocket extends Socket {

    /** For tests: see {@link FirstReadPolicy}. */
    static final int LATE_REPLIES_BEFORE_WAITING = FirstReadPolicy.LATE_REPLIES_BEFORE_WAITING;
    /** For tests: see {@link FirstReadPolicy}. */
    static final int REPROBE_EVERY = FirstReadPolicy.REPROBE_EVERY;

    private final SocketChannel channel;
    private final Socket adaptor;
    private final ReadinessWaiter waiter;
    private final FirstReadPolicy firstRead = new FirstReadPolicy();
    /** SO_LINGER 0, as set through this socket (or by the factory before): a close is an RST. */
    private volatile boolean lingerZero;
    /**
     * Whether SO_LINGER stays 0 whatever HttpClient sets, until {@link #applyRequestedLinger}: the
     * factory's sockets keep it while they connect and shake hands, so that HttpClient's close
     * after a failed connect or TLS handshake (recorded FAILED) is an RST and leaves no TIME_WAIT,
     * also when {@code SocketConfig} sets a linger of its own.
     */
    private volatile boolean holdingLingerZero;
    /** The linger HttpClient asked for while it was held (seconds; negative: off), or null if none. */
    private Integer requestedLinger;
    private final ChannelStreams.In in;
    private final ChannelStreams.Out out;

    ChannelSocket(SocketChannel channel) throws SocketException {
        this(channel, false);
    }

    /** @param lingerZero whether the channel is already held with SO_LINGER 0 (its closes are RSTs) */
    ChannelSocket(SocketChannel channel, boolean lingerZero) throws SocketException {
        super((SocketImpl) null);
        this.channel = channel;
        this.adaptor = channel.socket();
        this.lingerZero = lingerZero;
        this.holdingLingerZero = lingerZero;
        this.waiter = new ReadinessWaiter(channel);
        this.in = new ChannelStreams.In(this, channel, waiter, firstRead);
        this.out = new ChannelStreams.Out(this, channel, waiter, firstRead);
    }

    /**
     * Ends the hold on SO_LINGER 0 and applies the linger HttpClient asked for meanwhile (its
     * {@code SocketConfig}'s), if any: called once the connection is connected, TLS included.
     * From then on HttpClient's own closes linger as the user asked, and
     * {@link #closesWithReset()} says which they are. Called by the thread that connects, which
     * also set the linger.
     */
    void applyRequestedLinger() throws SocketException {
        if (!holdingLingerZero) {
            return;
        }
        holdingLingerZero = false;
        Integer linger = requestedLinger;
        requestedLinger = null;
        if (linger != null) {
            setSoLinger(linger >= 0, Math.max(linger, 0));
        }
    }

    /**
     * Whether a close of this socket by HttpClient (not by the pool, whose closes set the linger
     * they need on the channel) is an RST: SO_LINGER 0, as the factory sets it, unless HttpClient
     * set another linger through this socket that applies by now (see {@link #applyRequestedLinger}).
     */
    boolean closesWithReset() {
        return lingerZero;
    }

    // ------------------------------------------------------------------ connecting

    @Override
    public void connect(SocketAddress endpoint) throws IOException {
        connect(endpoint, 0);
    }

    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
        adaptor.connect(endpoint, timeout); // the adaptor connects in blocking mode
        channel.configureBlocking(false);
    }

    @Override
    public void bind(SocketAddress bindpoint) throws IOException {
        adaptor.bind(bindpoint);
    }

    @Override
    public SocketChannel getChannel() {
        return channel;
    }

    // ------------------------------------------------------------------ streams

    @Override
    public InputStream getInputStream() throws IOException {
        ensureUsable();
        if (adaptor.isInputShutdown()) {
            throw new SocketException("Socket input is shutdown");
        }
        return in;
    }

    @Override
    public OutputStream getOutputStream() throws IOException {
        ensureUsable();
        if (adaptor.isOutputShutdown()) {
            throw new SocketException("Socket output is shutdown");
        }
        return out;
    }

    private void ensureUsable() throws SocketException {
        if (isClosed()) {
            throw new SocketException("Socket is closed");
        }
        if (!isConnected()) {
            throw new SocketException("Socket is not connected");
        }
    }

    /** For tests: first reads after a request that found nothing, in a row. */
    int lateReplies() {
        return firstRead.lateReplies();
    }

    // ------------------------------------------------------------------ closing

    /** Closes the channel and this connection's selector, waking any waiter. Idempotent. */
    @Override
    public void close() throws IOException {
        waiter.close();
    }

    @Override
    public void shutdownInput() throws IOException {
        adaptor.shutdownInput();
    }

    @Override
    public void shutdownOutput() throws IOException {
        adaptor.shutdownOutput();
    }

    @Override
    public boolean isConnected() {
        return adaptor.isConnected();
    }

    @Override
    public boolean isBound() {
        return adaptor.isBound();
    }

    @Override
    public boolean isClosed() {
        return waiter.isClosed() || !channel.isOpen();
    }

    @Override
    public boolean isInputShutdown() {
        return adaptor.isInputShutdown();
    }

    @Override
    public boolean isOutputShutdown() {
        return adaptor.isOutputShutdown();
    }

    // ------------------------------------------------------------------ timeouts and options

    @Override
    public void setSoTimeout(int timeout) throws SocketException {
        if (timeout < 0) {
            throw new IllegalArgumentException("timeout < 0");
        }
        if (isClosed()) {
            throw new SocketException("Socket is closed");
        }
        in.timeoutMillis(timeout);
    }

    @Override
    public int getSoTimeout() throws SocketException {
        if (isClosed()) {
            throw new SocketException("Socket is closed");
        }
        return in.timeoutMillis();
    }

    @Override
    public InetAddress getInetAddress() {
        return adaptor.getInetAddress();
    }

    @Override
    public InetAddress getLocalAddress() {
        return adaptor.getLocalAddress();
    }

    @Override
    public int getPort() {
        return adaptor.getPort();
    }

    @Override
    public int getLocalPort() {
        return adaptor.getLocalPort();
    }

    @Override
    public SocketAddress getRemoteSocketAddress() {
        return adaptor.getRemoteSocketAddress();
    }

    @Override
    public SocketAddress getLocalSocketAddress() {
        return adaptor.getLocalSocketAddress();
    }

    @Override
    public void setTcpNoDelay(boolean on) throws SocketException {
        adaptor.setTcpNoDelay(on);
    }

    @Override
    public boolean getTcpNoDelay() throws SocketException {
        return adaptor.getTcpNoDelay();
    }

    /** While SO_LINGER 0 is held (see {@link #holdingLingerZero}), notes the linger for later. */
    @Override
    public void setSoLinger(boolean on, int linger) throws SocketException {
        if (holdingLingerZero) {
            if (on && linger < 0) {
                throw new IllegalArgumentException("invalid value for SO_LINGER");
            }
            if (isClosed()) {
                throw new SocketException("Socket is closed");
            }
            requestedLinger = on ? linger : -1;
            return;
        }
        adaptor.setSoLinger(on, linger);
        lingerZero = on && linger == 0;
    }

    @Override
    public int getSoLinger() throws SocketException {
        return adaptor.getSoLinger();
    }

    @Override
    public void sendUrgentData(int data) throws IOException {
        adaptor.sendUrgentData(data);
    }

    @Override
    public void setOOBInline(boolean on) throws SocketException {
        adaptor.setOOBInline(on);
    }

    @Override
    public boolean getOOBInline() throws SocketException {
        return adaptor.getOOBInline();
    }

    @Override
    public void setSendBufferSize(int size) throws SocketException {
        adaptor.setSendBufferSize(size);
    }

    @Override
    public int getSendBufferSize() throws SocketException {
        return adaptor.getSendBufferSize();
    }

    @Override
    public void setReceiveBufferSize(int size) throws SocketException {
        adaptor.setReceiveBufferSize(size);
    }

    @Override
    public int getReceiveBufferSize() throws SocketException {
        return adaptor.getReceiveBufferSize();
    }

    @Override
    public void setKeepAlive(boolean on) throws SocketException {
        adaptor.setKeepAlive(on);
    }

    @Override
    public boolean getKeepAlive() throws SocketException {
        return adaptor.getKeepAlive();
    }

    @Override
    public void setTrafficClass(int tc) throws SocketException {
        adaptor.setTrafficClass(tc);
    }

    @Override
    public int getTrafficClass() throws SocketException {
        return adaptor.getTrafficClass();
    }

    @Override
    public void setReuseAddress(boolean on) throws SocketException {
        adaptor.setReuseAddress(on);
    }

    @Override
    public boolean getReuseAddress() throws SocketException {
        return adaptor.getReuseAddress();
    }

    @Override
    public void setPerformancePreferences(int connectionTime, int latency, int bandwidth) {
        adaptor.setPerformancePreferences(connectionTime, latency, bandwidth);
    }

    @Override
    public <T> Socket setOption(SocketOption<T> name, T value) throws IOException {
        if (name == java.net.StandardSocketOptions.SO_LINGER && holdingLingerZero) {
            if (value == null) {
                throw new IllegalArgumentException("Invalid value 'null'");
            }
            int linger = (Integer) value;
            setSoLinger(linger >= 0, Math.max(linger, 0));
            return this;
        }
        adaptor.setOption(name, value);
        if (name == java.net.StandardSocketOptions.SO_LINGER) {
            lingerZero = value != null && (Integer) value == 0;
        }
        return this;
    }

    @Override
    public <T> T getOption(SocketOption<T> name) throws IOException {
        return adaptor.getOption(name);
    }

    @Override
    public Set<SocketOption<?>> supportedOptions() {
        return adaptor.supportedOptions();
    }

    @Override
    public String toString() {
        return "ChannelSocket[" + adaptor + "]";
    }
}
