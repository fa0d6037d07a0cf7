package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Ending;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectionKey;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Watches the idle sockets of every close-owning socket factory in the JVM, on the JVM's one
 * {@link IdleWatcher} (its thread and selector; this is one of its tasks). A socket its client
 * has left idle for the watch delay is put in non-blocking mode and registered for readiness;
 * what arrives is read ahead for the client, and the peer's FIN is answered by a passive close
 * at once, so no CLOSE_WAIT lingers on a socket a client pool keeps idle. The client's next call
 * takes the socket back (one {@code selectNow}).
 *
 * <p>The task runs every {@link #TICK_MILLIS} while a factory socket is open and not at all
 * otherwise. Every move of a socket's state, and its read-ahead buffer while watched, is guarded
 * by {@link #lock}; listeners are called off the watcher's thread.
 */
final class SocketWatcher extends IdleWatcher.Task {

    /** How often idle sockets are looked at. */
    static final long TICK_MILLIS = 20;
    private static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(TICK_MILLIS);
    /** Bytes read ahead for an idle socket's client at most; beyond that it is no longer watched. */
    private static final int READ_AHEAD_LIMIT = 64 * 1024;
    private static final SocketWatcher SHARED = new SocketWatcher(IdleWatcher.shared());

    private final IdleWatcher watcher;
    private final ReentrantLock lock = new ReentrantLock();
    private final Set<OwnedSocket> live = ConcurrentHashMap.newKeySet();
    /** The watcher thread's alone (readiness callbacks and the task run there). */
    private final ByteBuffer scratch = ByteBuffer.allocate(8192);

    private SocketWatcher(IdleWatcher watcher) {
        this.watcher = watcher;
    }

    static SocketWatcher shared() {
        return SHARED;
    }

    IdleWatcher idleWatcher() {
        return watcher;
    }

    /** A connected socket, to be watched whenever its client leaves it idle. */
    void add(OwnedSocket s) {
        live.add(s);
        watcher.schedule(this, Nanos.plus(System.nanoTime(), s.owner.watchDelayNanos()));
    }

    @Override
    protected long run(long now) {
        lock.lock();
        try {
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
                    s.key = watcher.watch(s.channel, (key, t) -> ready(s));
                    readIdle(s); // what arrived before we registered
                } catch (IOException | RuntimeException e) {
                    live.remove(s);
                    if (s.closedUnder()) {
                        // The JDK closed it for an interrupted call (a client close cannot race: it
                        // takes the socket over under this lock). Counted here, once: the client's
                        // close, if it ever comes, then finds it CLOSED.
                        s.state = OwnedSocket.CLOSED;
                        watcher.offload(() -> s.owner.closedUnder(s));
                    } else {
                        s.state = OwnedSocket.ACTIVE;
                    }
                }
            }
        } finally {
            lock.unlock();
        }
        return live.isEmpty() ? IdleWatcher.NEVER : now + TICK_NANOS;
    }

    /** A watched socket is readable (on the watcher's thread). */
    private void ready(OwnedSocket s) {
        lock.lock();
        try {
            if (s.state == OwnedSocket.WATCHED) {
                readIdle(s);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Reads what arrived on a watched socket ahead for its client; answers the peer's FIN. Under the lock. */
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
        watcher.offload(() -> s.owner.peerClosedWhileIdle(s, ending));
    }

    /** Stops watching {@code s} and gives it back to blocking mode. Under the lock. */
    private void unwatch(OwnedSocket s) throws IOException {
        SelectionKey key = s.key;
        s.key = null;
        watcher.unwatch(key);
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
     * WATCHED, PEER_ENDED, or CLOSED if the watcher found its channel closed under it and counted
     * that). Afterwards the watcher leaves it alone and it is CLOSED.
     */
    int takeOver(OwnedSocket s) {
        live.remove(s);
        lock.lock();
        try {
            int was = s.state;
            if (was == OwnedSocket.WATCHED) {
                SelectionKey key = s.key;
                s.key = null;
                try {
                    watcher.unwatch(key);
                } catch (IOException ignored) {
                    // The key is cancelled either way; the drain registers the channel anew.
                }
            }
            s.state = OwnedSocket.CLOSED;
            return was;
        } finally {
            lock.unlock();
        }
    }

    /** Sockets of {@code owner} currently watched (idle in their client's hands). */
    int watchedCount(OwnedSockets owner) {
        int n = 0;
        for (OwnedSocket s : live) {
            if (s.owner == owner && s.state == OwnedSocket.WATCHED) {
                n++;
            }
        }
        return n;
    }
}
