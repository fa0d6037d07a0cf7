package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Ending;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Watches the idle sockets of every close-owning socket factory in the JVM: one daemon thread and
 * one selector for all of them. A socket its client has left idle for the watch delay is put in
 * non-blocking mode and registered for readiness; what arrives is read ahead for the client, and
 * the peer's FIN is answered by a passive close at once, so no CLOSE_WAIT lingers on a socket a
 * client pool keeps idle. The client's next call takes the socket back (one {@code selectNow}).
 *
 * <p>The thread sleeps in {@code select} with no timeout when no factory socket is open, so an
 * unused watcher costs nothing. Everything that touches the selector's keys, and every move of a
 * socket's state, happens under {@link #lock}.
 */
final class SocketWatcher implements Runnable {

    private static final System.Logger LOG = System.getLogger(SocketWatcher.class.getName());
    /** How often idle sockets are looked at. */
    static final long TICK_MILLIS = 20;
    /** Bytes read ahead for an idle socket's client at most; beyond that it is no longer watched. */
    private static final int READ_AHEAD_LIMIT = 64 * 1024;
    private static final SocketWatcher SHARED = new SocketWatcher();

    private final ReentrantLock lock = new ReentrantLock();
    private final Set<OwnedSocket> live = ConcurrentHashMap.newKeySet();
    private final Queue<Drain> newDrains = new ConcurrentLinkedQueue<>();
    /** Drains in progress; the watcher thread's alone. */
    private final List<Drain> drains = new ArrayList<>();
    private final ByteBuffer scratch = ByteBuffer.allocate(8192);
    private volatile Selector selector;
    private volatile boolean started;

    static SocketWatcher shared() {
        return SHARED;
    }

    /** A connected socket, to be watched whenever its client leaves it idle. */
    void add(OwnedSocket s) {
        ensureStarted();
        live.add(s);
        if (live.size() == 1) {
            selector.wakeup(); // it may be asleep with nothing to watch
        }
    }

    private void ensureStarted() {
        if (started) {
            return;
        }
        synchronized (this) {
            if (started) {
                return;
            }
            try {
                selector = Selector.open();
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot open the socket watcher's selector", e);
            }
            Thread t = new Thread(this, "portkeeper-socket-watcher");
            t.setDaemon(true);
            t.start();
            started = true;
        }
    }

    @Override
    public void run() {
        for (;;) {
            try {
                boolean nothingToDo = live.isEmpty() && drains.isEmpty() && newDrains.isEmpty();
                selector.select(nothingToDo ? 0 : TICK_MILLIS);
                lock.lock();
                try {
                    long now = System.nanoTime();
                    handleReadiness();
                    registerDrains(now);
                    expireDrains(now);
                    watchIdle(now);
                } finally {
                    lock.unlock();
                }
            } catch (IOException | RuntimeException e) {
                // One bad round must not end the watching: log and go on.
                LOG.log(System.Logger.Level.WARNING, "Socket watcher round failed; continuing", e);
            }
        }
    }

    private void handleReadiness() {
        Iterator<SelectionKey> it = selector.selectedKeys().iterator();
        while (it.hasNext()) {
            SelectionKey key = it.next();
            it.remove();
            Object attachment = key.attachment();
            if (attachment instanceof Drain) {
                readDraining((Drain) attachment);
                continue;
            }
            OwnedSocket s = (OwnedSocket) attachment;
            if (s.state == OwnedSocket.WATCHED) {
                readIdle(s);
            }
        }
    }

    private void watchIdle(long now) {
        for (OwnedSocket s : live) {
            if (s.state != OwnedSocket.ACTIVE || s.inFlight.get() > 0 || now - s.lastActive < s.owner.watchDelayNanos()) {
                continue;
            }
            s.state = OwnedSocket.WATCHED;
            if (s.inFlight.get() > 0) { // a client call started meanwhile: it owns the socket
                s.state = OwnedSocket.ACTIVE;
                continue;
            }
            try {
                s.channel.configureBlocking(false);
                s.key = s.channel.register(selector, SelectionKey.OP_READ, s);
                readIdle(s); // what arrived before we registered
            } catch (IOException | RuntimeException e) {
                // Closed under us (a client close racing): leave it to that close.
                s.state = OwnedSocket.ACTIVE;
                live.remove(s);
            }
        }
    }

    /** Reads what arrived on a watched socket ahead for its client; answers the peer's FIN. */
    private void readIdle(OwnedSocket s) {
        try {
            for (;;) {
                scratch.clear();
                int n = s.channel.read(scratch);
                if (n < 0) {
                    peerEnded(s);
                    return;
                }
                if (n == 0) {
                    return;
                }
                scratch.flip();
                ByteBuffer ra = s.readAhead;
                if (ra == null || ra.remaining() < n) {
                    int held = ra == null ? 0 : ra.position();
                    ByteBuffer grown = ByteBuffer.allocate(Math.max(4096, Integer.highestOneBit(held + n) * 2));
                    if (ra != null) {
                        grown.put(ra.flip());
                    }
                    ra = grown;
                    s.readAhead = ra;
                }
                ra.put(scratch);
                if (ra.position() >= READ_AHEAD_LIMIT) {
                    unwatch(s); // the client's own reads take it from here
                    return;
                }
            }
        } catch (IOException e) {
            peerEnded(s); // reset by the peer: nothing left to close cleanly
        }
    }

    private void peerEnded(OwnedSocket s) {
        if (s.key != null) {
            s.key.cancel();
            s.key = null;
        }
        Ending ending = SocketCloser.close(s.channel, false);
        s.state = OwnedSocket.PEER_ENDED;
        live.remove(s);
        s.owner.peerClosedWhileIdle(s, ending);
    }

    /** Stops watching {@code s} and gives it back to blocking mode. Under the lock. */
    private void unwatch(OwnedSocket s) throws IOException {
        SelectionKey key = s.key;
        s.key = null;
        if (key != null) {
            key.cancel();
            selector.wakeup();
            selector.selectNow(); // deregisters the cancelled key, so blocking mode can return
        }
        s.channel.configureBlocking(true);
        s.state = OwnedSocket.ACTIVE;
    }

    /** Takes a watched socket back for a client call. */
    void reclaim(OwnedSocket s) throws IOException {
        lock.lock();
        try {
            if (s.state == OwnedSocket.WATCHED) {
                unwatch(s);
            }
        } catch (CancelledKeyException e) {
            throw new IOException("Socket was closed while idle", e);
        } finally {
            lock.unlock();
        }
    }

    /**
     * The client closed {@code s}: stop watching it and return the state it was in (ACTIVE,
     * WATCHED or PEER_ENDED). Afterwards the watcher leaves it alone and it is CLOSED.
     */
    int takeOver(OwnedSocket s) {
        live.remove(s);
        lock.lock();
        try {
            int was = s.state;
            if (was == OwnedSocket.WATCHED) {
                SelectionKey key = s.key;
                s.key = null;
                if (key != null) {
                    key.cancel();
                    selector.wakeup();
                    try {
                        selector.selectNow();
                    } catch (IOException ignored) {
                        // The key is cancelled either way; the drain registers the channel anew.
                    }
                }
            }
            s.state = OwnedSocket.CLOSED;
            return was;
        } finally {
            lock.unlock();
        }
    }

    /** Sockets currently watched (idle in their client's hands). */
    int watchedCount(OwnedSockets owner) {
        int n = 0;
        for (OwnedSocket s : live) {
            if (s.owner == owner && s.state == OwnedSocket.WATCHED) {
                n++;
            }
        }
        return n;
    }

    /**
     * Keeps {@code channel} (connected, owned by the caller until now, registered with no
     * selector) open until the peer's FIN arrives, then closes it passively ({@link Ending#PEER});
     * after {@code timeoutNanos} closes it by {@code fallback}. Bytes that arrive meanwhile are
     * discarded and added to {@code discarded}; more than {@code byteLimit} of them end the drain
     * with RST (a response still streaming in is not worth waiting out). {@code done} gets the
     * ending, on the watcher's thread.
     */
    void drain(SocketChannel channel, long timeoutNanos, Ending fallback, int byteLimit, LongAdder discarded, Consumer<Ending> done) {
        ensureStarted();
        newDrains.add(new Drain(channel, System.nanoTime() + timeoutNanos, fallback, byteLimit, discarded, done));
        selector.wakeup();
    }

    private void registerDrains(long now) {
        Drain d;
        while ((d = newDrains.poll()) != null) {
            try {
                d.channel.configureBlocking(false);
                d.channel.register(selector, SelectionKey.OP_READ, d);
                drains.add(d);
                readDraining(d); // the FIN may have come already
            } catch (IOException | RuntimeException e) {
                d.finish(SocketCloser.close(d.channel, true));
            }
        }
    }

    private void expireDrains(long now) {
        Iterator<Drain> it = drains.iterator();
        while (it.hasNext()) {
            Drain d = it.next();
            if (d.ended) {
                it.remove();
            } else if (now - d.deadline >= 0) {
                it.remove();
                d.finish(SocketCloser.close(d.channel, d.fallback == Ending.RESET));
            }
        }
    }

    private void readDraining(Drain d) {
        if (d.ended) {
            return;
        }
        try {
            for (;;) {
                scratch.clear();
                int n = d.channel.read(scratch);
                if (n < 0) {
                    d.finish(SocketCloser.close(d.channel, false));
                    return;
                }
                if (n == 0) {
                    return;
                }
                d.discarded.add(n);
                d.bytes += n;
                if (d.bytes > d.byteLimit) {
                    d.finish(SocketCloser.close(d.channel, true));
                    return;
                }
            }
        } catch (IOException e) {
            d.finish(SocketCloser.close(d.channel, false)); // reset by the peer
        }
    }

    /** A closed socket awaiting its peer's FIN. */
    private static final class Drain {
        final SocketChannel channel;
        final long deadline;
        final Ending fallback;
        final int byteLimit;
        final LongAdder discarded;
        final Consumer<Ending> done;
        long bytes;
        boolean ended;

        Drain(SocketChannel channel, long deadline, Ending fallback, int byteLimit, LongAdder discarded, Consumer<Ending> done) {
            this.channel = channel;
            this.deadline = deadline;
            this.fallback = fallback;
            this.byteLimit = byteLimit;
            this.discarded = discarded;
            this.done = done;
        }

        void finish(Ending ending) {
            if (!ended) {
                ended = true;
                done.accept(ending);
            }
        }
    }
}
