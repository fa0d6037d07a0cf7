package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolListener;
import io.github.portkeeper.core.PoolStats;
import io.github.portkeeper.core.Retirement;

import java.io.IOException;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The engine of the close-owning socket factory: makes its sockets, decides how each one ends
 * when its client closes it, bounds the sockets draining at once, and reports every ending to the
 * listeners as a pool reports its connections'. Thread-safe.
 */
public final class OwnedSockets {

    /** Bytes of an unread response drained at most when a socket is closed mid-exchange. */
    static final int DRAIN_BYTE_LIMIT = 64 * 1024;

    private final String name;
    private final Retirement retirement;
    private final int maxDraining;
    private final long watchDelayNanos;
    private final Listeners listeners;
    private final SocketWatcher watcher = SocketWatcher.shared();
    private final Set<Endpoint> endpoints = ConcurrentHashMap.newKeySet();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger draining = new AtomicInteger();
    private final LongAdder overflowed = new LongAdder();
    private final LongAdder discardedBytes = new LongAdder();

    public OwnedSockets(String name, Retirement retirement, int maxDraining, long watchDelayNanos, List<PoolListener> listeners) {
        this.name = name;
        this.retirement = retirement;
        this.maxDraining = maxDraining;
        this.watchDelayNanos = watchDelayNanos;
        this.listeners = new Listeners(listeners);
    }

    /** A new, unconnected socket. */
    public Socket newSocket() throws IOException {
        SocketChannel channel = SocketChannel.open();
        try {
            return new OwnedSocket(this, channel);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    public void addListener(PoolListener listener) {
        listeners.add(listener);
    }

    /** A client integration's report that its pool served a request on a new or a reused connection. */
    public void leased(Endpoint endpoint, boolean reused) {
        endpoints.add(endpoint);
        listeners.leased(endpoint, reused, 0);
    }

    public String name() {
        return name;
    }

    public Retirement retirement() {
        return retirement;
    }

    public int maxDraining() {
        return maxDraining;
    }

    long watchDelayNanos() {
        return watchDelayNanos;
    }

    SocketWatcher watcher() {
        return watcher;
    }

    /** Endpoints connected to so far (a live view). */
    public Set<Endpoint> endpoints() {
        return java.util.Collections.unmodifiableSet(endpoints);
    }

    /** Open sockets in their clients' hands (active or idle), watched ones (idle) and draining ones. */
    public PoolStats stats() {
        int watched = watcher.watchedCount(this);
        int d = draining.get();
        return new PoolStats(Math.max(0, open.get() - watched), watched, d, 0, java.util.Map.of());
    }

    /** Closes beyond the draining bound that took the fallback at once. */
    public long drainOverflows() {
        return overflowed.sum();
    }

    /** Bytes that arrived on closed sockets while they drained (or were read at close), discarded. */
    public long discardedBytes() {
        return discardedBytes.sum();
    }

    void connectFailed(Endpoint endpoint, Throwable cause) {
        endpoints.add(endpoint);
        listeners.connectFailed(endpoint, cause);
    }

    void opened(OwnedSocket s, long connectNanos) {
        endpoints.add(s.endpoint());
        open.incrementAndGet();
        listeners.connectionOpened(s.endpoint(), connectNanos);
        watcher.add(s);
    }

    /** The watcher answered the peer's FIN on a socket its client left idle. */
    void peerClosedWhileIdle(OwnedSocket s, Ending ending) {
        open.decrementAndGet();
        listeners.connectionClosed(s.endpoint(), ending, CloseReason.PEER_CLOSED);
    }

    /**
     * The channel of connected {@code s} was closed without the factory: the JDK closes a blocking
     * channel whose thread is interrupted. Held with SO_LINGER 0, that close was an RST; if the
     * hold could not be set, a FIN, counted LOCAL so the count errs toward the TIME_WAIT. Called
     * once per socket, by its client's close or by the watcher, whichever finds it first.
     */
    void closedUnder(OwnedSocket s) {
        open.decrementAndGet();
        listeners.connectionClosed(s.endpoint(), s.heldForAbort() ? Ending.RESET : Ending.LOCAL, CloseReason.BROKEN);
    }

    /**
     * The client closed {@code s}: end it by the retirement policy. {@code abort}: another
     * thread is blocked in I/O on it, so this close is an abort of the exchange (RST, which is
     * also what wakes that thread). The reason is {@code BROKEN} if an exchange on it failed, a
     * TLS handshake included (it served no request, so it credits no avoided TIME_WAIT, as the
     * pool's broken connections), else {@code RETIRED}.
     */
    void retire(OwnedSocket s, boolean abort) {
        open.decrementAndGet();
        Endpoint ep = s.endpoint();
        SocketChannel ch = s.channel;
        if (abort) {
            abort(ch);
            listeners.connectionClosed(ep, Ending.RESET, CloseReason.BROKEN);
            return;
        }
        CloseReason reason = s.broken() ? CloseReason.BROKEN : CloseReason.RETIRED;
        switch (retirement.policy()) {
            case LOCAL:
                closed(s, SocketCloser.close(ch, false), reason);
                return;
            case RESET:
                closed(s, SocketCloser.close(ch, true), reason);
                return;
            default:
                break;
        }
        int fin = readAtClose(s);
        if (fin > 0) {
            closed(s, SocketCloser.close(ch, false), reason);
        } else if (fin < 0) {
            // A response still streaming in: the kernel would answer a close with RST anyway.
            closed(s, SocketCloser.close(ch, true), reason);
        } else if (draining.incrementAndGet() > maxDraining) {
            draining.decrementAndGet();
            overflowed.increment();
            closed(s, SocketCloser.close(ch, retirement.fallback() == Ending.RESET), reason);
        } else {
            listeners.connectionRetiring(ep, reason);
            // The JVM's idle watcher owns it from here: the peer's FIN, the drain timeout's
            // fallback, or a reset by the peer ends it.
            watcher.idleWatcher().drain(ch, retirement, drained -> {
                draining.decrementAndGet();
                discardedBytes.add(drained.bytesDiscarded());
                closed(s, drained.ending(), reason);
            });
        }
    }

    /**
     * Reports how {@code s} ended. A reset its client's call already saw consumed the socket's
     * error, so a close that then found only an end of stream (PEER) was an abort.
     */
    private void closed(OwnedSocket s, Ending ending, CloseReason reason) {
        Ending e = ending == Ending.PEER && s.wasLostUnderCall() ? Ending.ABORTED : ending;
        listeners.connectionClosed(s.endpoint(), e, reason);
    }

    /**
     * Reads what is left on a socket its client just closed, without blocking, discarding it
     * (counted): 1 if the peer's FIN has arrived, 0 if not, -1 if more than the drain limit is
     * there. Read-ahead bytes the client never read were discarded (counted) by its close.
     */
    private int readAtClose(OwnedSocket s) {
        SocketChannel ch = s.channel;
        try {
            ch.configureBlocking(false);
            ByteBuffer scratch = ByteBuffer.allocate(4096);
            int total = 0;
            for (;;) {
                scratch.clear();
                int n = ch.read(scratch);
                if (n < 0) {
                    return 1;
                }
                if (n == 0) {
                    return 0;
                }
                discardedBytes.add(n);
                total += n;
                if (total > DRAIN_BYTE_LIMIT) {
                    return -1;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 1; // reset by the peer, or already closed: nothing to close cleanly
        }
    }

    /**
     * Discards (counted) the bytes the watcher read ahead for {@code s} that its client never read.
     * Called by its client's close, after the watcher gave the socket up.
     */
    void discardReadAhead(OwnedSocket s) {
        int n = s.discardReadAhead();
        if (n > 0) {
            discardedBytes.add(n);
        }
    }

    private static void abort(SocketChannel ch) {
        try {
            ch.setOption(StandardSocketOptions.SO_LINGER, 0);
        } catch (IOException | RuntimeException ignored) {
            // Already closed by a racing failure.
        }
        try {
            ch.close();
        } catch (IOException ignored) {
            // The descriptor is released either way.
        }
    }
}
