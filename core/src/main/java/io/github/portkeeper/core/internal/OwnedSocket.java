package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketOption;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A socket made by the close-owning socket factory: a plain, connectable socket for its client,
 * over a channel the factory owns. Its {@link #close()} hands the connection to the factory's
 * retirement policy instead of sending a FIN.
 *
 * <p>While the client leaves it idle (no call in progress for the watch delay), the
 * {@link SocketWatcher} watches it for readiness. What arrives then is read ahead into a buffer
 * that the client's next read returns first, so no byte is lost; if it is the peer's FIN, the
 * socket is closed passively at once (no CLOSE_WAIT lingers) and the client sees end of stream,
 * and {@link #isClosed()} true, from then on.
 *
 * <p>Concurrency: {@link #inFlight} counts client calls in progress; {@link #state} moves out of
 * ACTIVE only under the watcher's lock, after the watcher has seen no call in progress (a call
 * raises {@link #inFlight} before it reads {@link #state}, the watcher writes {@link #state}
 * before it reads {@link #inFlight}, so one of the two always sees the other).
 *
 * <p>This class is the {@link Socket} API and the close; the streams it hands out, their side of
 * that handshake and the read-ahead they serve are {@code OwnedSocketStreams}, and what decides
 * how its close is counted (failed exchanges, TLS on top) is {@code CloseAccount}.
 */
public final class OwnedSocket extends SocketView {

    static final int ACTIVE = 0;
    static final int WATCHED = 1;
    static final int PEER_ENDED = 2;
    static final int CLOSED = 3;

    final OwnedSockets owner;
    final SocketChannel channel;
    final AtomicInteger inFlight = new AtomicInteger();
    volatile int state = ACTIVE;
    volatile long lastActive = System.nanoTime();
    /** The watch registration; read and written under the watcher's lock. */
    SelectionKey key;
    /**
     * Bytes the watcher read ahead while the socket was idle, in write mode; under the watcher's
     * lock while WATCHED, else under the lock of its {@link OwnedSocketStreams} (a client read and
     * a close on another thread both take from it).
     */
    ByteBuffer readAhead;
    private volatile Endpoint endpoint;
    private final AtomicBoolean closing = new AtomicBoolean();
    private int linger = -1;
    /** Whether the channel holds SO_LINGER 0, so a close the factory does not make is an RST. */
    private volatile boolean heldForAbort;
    private volatile boolean inputShut;
    /** Failed exchanges, TLS on top and output shut down: how the close is counted. */
    final CloseAccount account = new CloseAccount();
    /** The client's streams: its calls, and the read-ahead served to them. */
    private final OwnedSocketStreams streams = new OwnedSocketStreams(this);

    OwnedSocket(OwnedSockets owner, SocketChannel channel) throws SocketException {
        super(channel.socket());
        this.owner = owner;
        this.channel = channel;
    }

    Endpoint endpoint() {
        return endpoint;
    }

    boolean heldForAbort() {
        return heldForAbort;
    }

    /** Connected, then closed without the factory: the JDK closed the channel of an interrupted call. */
    boolean closedUnder() {
        return endpoint != null && !channel.isOpen();
    }

    @Override
    protected Socket open() throws SocketException {
        if (state == CLOSED || closing.get()) {
            throw new SocketException("Socket is closed");
        }
        return delegate;
    }

    /** See {@link CloseAccount#failed()}. */
    @Override
    protected void failed() {
        account.failed();
    }

    /** See {@link CloseAccount#endOfStream(boolean)}. */
    @Override
    protected void endOfStream(boolean afterData) {
        account.endOfStream(afterData);
    }

    /** A call our own close aborted (from another thread) fails as a plain socket's does. */
    @Override
    protected boolean closedUnderCall() {
        return closing.get();
    }

    /** Whether its close has begun. */
    boolean closing() {
        return closing.get();
    }

    /** Whether an exchange on it failed (a TLS handshake included): its close is counted as broken. */
    boolean broken() {
        return account.broken();
    }

    /** See {@link CloseAccount#lostUnderCall()}. */
    @Override
    protected void lostUnderCall() {
        account.lostUnderCall();
    }

    /** Whether a client call failed as a reset (or a kernel abort) does. */
    boolean wasLostUnderCall() {
        return account.wasLostUnderCall();
    }

    @Override
    public void connect(SocketAddress address) throws IOException {
        connect(address, 0);
    }

    @Override
    public void connect(SocketAddress address, int timeout) throws IOException {
        // The checks of java.net.Socket.connect, in its order: a call they refuse is no attempt,
        // so it is not counted as a failed connect (a connected socket's endpoint is not failing).
        if (address == null) {
            throw new IllegalArgumentException("connect: The address can't be null");
        }
        if (timeout < 0) {
            throw new IllegalArgumentException("connect: timeout can't be negative");
        }
        open();
        if (isConnected()) {
            throw new SocketException("already connected");
        }
        if (!(address instanceof InetSocketAddress)) {
            throw new IllegalArgumentException("Unsupported address type");
        }
        InetSocketAddress remote = (InetSocketAddress) address;
        Endpoint ep = Endpoint.of(remote.getHostString(), remote.getPort());
        // Held for abort from before the connect: the JDK closes a blocking channel whose thread is
        // interrupted, in the connect or in any later read or write, and that close must be an RST
        // (no TIME_WAIT) rather than a FIN the factory never sees. Graceful closes turn it off first.
        heldForAbort = SocketCloser.holdForAbort(channel);
        long start = System.nanoTime();
        try {
            delegate.connect(remote, timeout);
            // Now, while the channel is open: once the watcher has answered the peer's FIN, reads
            // must still give end of stream rather than the closed channel's refusal.
            fetchRawStreams();
        } catch (IOException | RuntimeException e) {
            owner.connectFailed(ep, e);
            throw e;
        }
        endpoint = ep;
        lastActive = System.nanoTime();
        owner.opened(this, System.nanoTime() - start);
    }

    @Override
    public void bind(SocketAddress bindpoint) throws IOException {
        open().bind(bindpoint);
    }

    /** As a plain socket: closing does not clear the connection state. */
    @Override
    public boolean isConnected() {
        return endpoint != null || delegate.isConnected();
    }

    /** As a plain socket: closing does not clear the bound state. */
    @Override
    public boolean isBound() {
        return endpoint != null || delegate.isBound();
    }

    /**
     * True once closed, once the peer closed it while the client left it idle (the factory answered
     * the FIN), and once an interrupted call made the JDK close its channel.
     */
    @Override
    public boolean isClosed() {
        int s = state;
        return s == CLOSED || s == PEER_ENDED || closing.get() || closedUnder();
    }

    /** Recorded but not applied: how the connection closes is the factory's retirement policy. */
    @Override
    public void setSoLinger(boolean on, int linger) throws SocketException {
        open();
        this.linger = on ? Math.max(0, linger) : -1;
    }

    @Override
    public int getSoLinger() throws SocketException {
        open();
        return linger;
    }

    /** SO_LINGER is recorded as by {@link #setSoLinger}, not applied: applying it would undo the hold for abort. */
    @Override
    public <T> Socket setOption(SocketOption<T> name, T value) throws IOException {
        if (name == StandardSocketOptions.SO_LINGER) {
            if (!(value instanceof Integer)) {
                throw new IllegalArgumentException("Invalid value '" + value + "'");
            }
            int seconds = (Integer) value;
            setSoLinger(seconds >= 0, seconds);
            return this;
        }
        return super.setOption(name, value);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T> T getOption(SocketOption<T> name) throws IOException {
        if (name == StandardSocketOptions.SO_LINGER) {
            return (T) Integer.valueOf(getSoLinger());
        }
        return super.getOption(name);
    }

    /** As a plain socket's: refused once closed, before the connect, and once input is shut down. */
    @Override
    public synchronized InputStream getInputStream() throws IOException {
        open();
        if (!isConnected()) {
            throw new SocketException("Socket is not connected");
        }
        return streams.in(super.getInputStream());
    }

    /** As a plain socket's: refused once closed, before the connect, and once output is shut down. */
    @Override
    public synchronized OutputStream getOutputStream() throws IOException {
        open();
        if (!isConnected()) {
            throw new SocketException("Socket is not connected");
        }
        return streams.out(super.getOutputStream());
    }

    /**
     * Recorded, not passed to the kernel: reads return end of stream from now on. The socket
     * still ends by the retirement policy when closed.
     */
    @Override
    public void shutdownInput() throws IOException {
        open();
        inputShut = true;
    }

    /**
     * Recorded, not passed to the kernel: the FIN it would send is the active close this factory
     * exists to avoid (a TLS socket layered on top shuts output right after its close_notify).
     * Writes fail from now on; the peer sees the connection end by the retirement policy.
     */
    @Override
    public void shutdownOutput() throws IOException {
        open();
        account.shutOutput();
    }

    @Override
    public boolean isInputShutdown() {
        return inputShut;
    }

    @Override
    public boolean isOutputShutdown() {
        return account.outputShut();
    }

    /** Empties the read-ahead (for a close) and returns how many bytes it held, unread. */
    int discardReadAhead() {
        return streams.discardReadAhead();
    }

    /**
     * Hands the connection to the factory's retirement policy. Idempotent. A close while another
     * thread is blocked reading or writing (a cancel, a timeout) aborts the exchange with RST,
     * which is also what wakes that thread.
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        int was = owner.watcher().takeOver(this);
        owner.discardReadAhead(this); // what the watcher read ahead and the client never read: discarded, counted
        if (was == PEER_ENDED || was == CLOSED) {
            closeQuietly(); // already ended and counted by the watcher
            return;
        }
        if (closedUnder()) {
            owner.closedUnder(this);
            return;
        }
        if (!channel.isConnected()) {
            closeQuietly(); // never connected (a failed connect is counted as such)
            return;
        }
        owner.retire(this, was == ACTIVE && inFlight.get() > 0);
    }

    private void closeQuietly() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // The descriptor is released either way.
        }
    }

    @Override
    public String toString() {
        Endpoint ep = endpoint;
        return "OwnedSocket[" + (ep == null ? "unconnected" : ep) + (isClosed() ? ", closed" : ", local port " + delegate.getLocalPort()) + "]";
    }
}
