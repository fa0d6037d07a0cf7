package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;

import java.io.IOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One pool's housekeeping and idle watching, run by the JVM's shared {@link IdleWatcher}: no
 * thread of its own, and no fixed tick. Each walk over the pool's connections returns the next
 * deadline it saw (a connection to start watching, to expire, a drain to time out, a lease that
 * may pass the leak threshold) and the watcher sleeps until then; a connection going idle asks
 * for a walk one housekeeping interval later, unless one is due by then anyway.
 *
 * <p>Idle connections are watched by readiness: after one housekeeping interval idle a
 * connection is put in non-blocking mode and registered with the watcher's selector. An idle
 * connection owes us nothing, so readiness means the peer's FIN (close passively, at once),
 * bytes nobody asked for (retire it), or a reset (an abort). {@link IdleRead} decides which, for
 * the watcher, for a leaser taking a watched connection back, and for the lease path's check.
 * Whoever reads first owns the connection: every move out of WATCHED is a CAS.
 *
 * <p>{@link #lock} serialises this pool's walks and its draining connections' closes; leasers
 * never take it, and the watcher's thread only tries it (a busy pool is retried a millisecond
 * later, so one pool never stalls the others).
 */
final class Housekeeper<C> extends IdleWatcher.Task {

    private static final long NEVER = IdleWatcher.NEVER;
    /** How long an expired connection that can have a last use waits idle for it (as the engine does). */
    private static final long LAST_USE_GRACE_NANOS = 1_000_000_000L;
    private static final long BUSY_RETRY_NANOS = 1_000_000L;

    private final PoolEngine<C> engine;
    private final IdleWatcher watcher = IdleWatcher.shared();
    private final long watchDelayNanos;
    private final long drainTimeoutNanos;
    private final long marginCapNanos;
    private final long maxIdleNanos;
    private final long leakThresholdNanos;
    private final boolean resetFallback;
    /** Idle ages below this at the server's close are not taken for its idle timeout. */
    private final long minObservableIdleNanos;
    private final ReentrantLock lock = new ReentrantLock();
    /** Held while a connection is being registered (IDLE → WATCHED → registered) and by a leaser taking a watched one back. */
    private final ReentrantLock watchLock = new ReentrantLock();
    /** Watched or draining connections the selector found readable, for the next run. */
    private final ConcurrentLinkedQueue<PooledEntry<C>> readable = new ConcurrentLinkedQueue<>();
    /** When the next walk is due ({@link System#nanoTime()}), or NEVER. */
    private final AtomicLong walkAt = new AtomicLong(NEVER);
    /** A walk is due within one housekeeping interval: a connection going idle need not ask for one. */
    private volatile boolean walkSoon;
    /**
     * A connection went idle since the last walk began. A walk that finds nothing to do while
     * connections keep coming back asks for one more walk an interval later instead of none:
     * with none, the next release would wake the sleeping watcher to ask for it, so a busy pool
     * (connections idle for microseconds, never long enough to be watched) cost the watcher two
     * wakeups per interval and each interval's first release a wakeup call; now one watcher
     * wakeup per interval and no wakeup call, and none of either once the releases stop.
     */
    private volatile boolean releasedSinceWalk;
    private volatile boolean stopping;
    private boolean finished;
    /** The JVM's one reader of the kernel's socket table, for the port budget. */
    final KernelPortCounter kernel = KernelPortCounter.shared();

    Housekeeper(PoolEngine<C> engine, PoolConfig config) {
        this.engine = engine;
        this.watchDelayNanos = config.housekeepingInterval().toNanos();
        this.drainTimeoutNanos = Nanos.saturated(config.retirement().drainTimeout());
        this.marginCapNanos = config.idleTimeoutMargin().toNanos();
        this.maxIdleNanos = config.maxIdleTime().toNanos();
        this.leakThresholdNanos = config.leakDetectionThreshold().toNanos();
        this.resetFallback = config.retirement().fallback() == Ending.RESET;
        this.minObservableIdleNanos = Math.max(50_000_000L, Nanos.times(3, watchDelayNanos));
    }

    /** Nothing to start: the watcher is shared and runs this pool only when something is due. */
    void ensureStarted() {
    }

    /**
     * The idle age past which a connection of {@code ep} must not be leased: the pool's maximum
     * idle time, or the server's known idle timeout minus a safety margin if that is sooner.
     */
    long idleLimitNanos(EndpointPool<C> ep, long maxIdle, long now) {
        long server = ep.serverIdleTimeoutNanos(now);
        if (server == Long.MAX_VALUE) {
            return maxIdle;
        }
        long margin = Math.min(marginCapNanos, server / 4);
        return Math.min(maxIdle, server - margin);
    }

    /** {@code e} just became idle: make sure a walk comes to watch it. One volatile read when one will. */
    void becameIdle() {
        if (!releasedSinceWalk) { // read first: busy threads share this field's cache line
            releasedSinceWalk = true;
        }
        if (!walkSoon && !stopping) {
            walkSoon = true;
            requestWalk(Nanos.plus(System.nanoTime(), watchDelayNanos));
        }
    }

    /**
     * {@code ep} just emptied (ticker time {@code now}): a walk must come by when it may be
     * forgotten, even if nothing else in the pool ever asks for one.
     */
    void forgetLater(EndpointPool<C> ep, long now) {
        if (!stopping) {
            requestWalk(Nanos.plus(System.nanoTime(), Math.max(0, forgetDue(ep, now) - now)));
        }
    }

    /**
     * When an empty endpoint pool may be forgotten (ticker time): once it has stayed empty for
     * {@code maxIdleTime} and the last TIME_WAIT of ours toward it left the port budget's window.
     */
    private long forgetDue(EndpointPool<C> ep, long now) {
        return Math.max(Nanos.plus(ep.lastEmptied, maxIdleNanos), ep.ports.quietAt(now));
    }

    private void requestWalk(long at) {
        long w;
        do {
            w = walkAt.get();
            if (w <= at) {
                break;
            }
        } while (!walkAt.compareAndSet(w, at));
        watcher.schedule(this, at);
    }

    @Override
    protected long run(long now) {
        if (stopping) {
            return NEVER;
        }
        if (!lock.tryLock()) {
            return now + BUSY_RETRY_NANOS;
        }
        try {
            return round(now, false);
        } finally {
            lock.unlock();
        }
    }

    /** Runs one round now, whatever is due (expiry, leaks, drain timeouts, watches). */
    void runOnce() {
        lock.lock();
        try {
            if (!finished) {
                round(System.nanoTime(), true);
            }
        } finally {
            lock.unlock();
        }
    }

    private long round(long sysNow, boolean walkNow) {
        long now = engine.now();
        PooledEntry<C> e;
        while ((e = readable.poll()) != null) {
            onReadable(e, now);
        }
        long w = walkAt.get();
        if (walkNow || w - sysNow <= 0) {
            walkAt.compareAndSet(w, NEVER);
            // walkSoon stays as it is during the walk: a release meanwhile that saw it set and
            // asked for nothing is caught below, by its releasedSinceWalk.
            boolean released = releasedSinceWalk;
            if (released) {
                releasedSinceWalk = false;
            }
            long next = walk(now);
            if (released) {
                next = Math.min(next, Nanos.plus(now, watchDelayNanos));
            }
            long delay = next == NEVER ? NEVER : Math.max(0, next - now);
            if (delay > watchDelayNanos) {
                walkSoon = false;
                // Written before read, as becameIdle writes releasedSinceWalk before reading
                // walkSoon: of a release and this walk, at least one sees the other.
                if (releasedSinceWalk) {
                    delay = watchDelayNanos;
                }
            }
            if (delay <= watchDelayNanos) {
                walkSoon = true;
            }
            if (delay != NEVER) {
                requestWalk(Nanos.plus(sysNow, delay));
            }
        }
        return walkAt.get();
    }

    /** Expiry, leaks, drain timeouts and new watches; returns the next deadline seen (ticker time). */
    private long walk(long now) {
        engine.checkIdleAndLeaks(now);
        long next = NEVER;
        boolean any = false;
        for (EndpointPool<C> ep : engine.endpointPools()) {
            if (ep.isEmpty()) {
                // Not forgotten by checkIdleAndLeaks yet: wake when it may be. One that was due
                // but stayed (a leaser arrived meanwhile) is looked at again a tick later.
                long due = forgetDue(ep, now);
                next = Math.min(next, due - now > 0 ? due : Nanos.plus(now, watchDelayNanos));
                continue;
            }
            for (PooledEntry<C> e : ep.entries()) {
                any = true;
                int s = e.state();
                if (s == PooledEntry.DRAINING) {
                    long due = Nanos.plus(e.drainingSince, drainTimeoutNanos);
                    if (due - now <= 0) {
                        closeDraining(e, resetFallback);
                    } else {
                        next = Math.min(next, due);
                    }
                } else if (s == PooledEntry.IDLE || s == PooledEntry.WATCHED) {
                    if (s == PooledEntry.IDLE) {
                        long watchAt = Nanos.plus(e.idleSince, watchDelayNanos);
                        if (watchAt - now <= 0 && e.channel() != null) {
                            watch(e, now);
                        } else if (watchAt - now > 0) {
                            next = Math.min(next, watchAt);
                        }
                    }
                    next = Math.min(next, expiryDue(e, now));
                } else if (s == PooledEntry.LEASED && leakThresholdNanos > 0 && e.leasedFrom != null && !e.leakReported) {
                    next = Math.min(next, Nanos.plus(e.leasedAt, leakThresholdNanos));
                }
            }
        }
        if (any && leakThresholdNanos > 0) {
            // A lease taken after this walk passes the threshold no sooner than this.
            next = Math.min(next, Nanos.plus(now, leakThresholdNanos));
        }
        return next;
    }

    /** When an idle connection stops being fit to lease (ticker time). */
    private long expiryDue(PooledEntry<C> e, long now) {
        if (engine.admission.unfitReason(e, now) != null) {
            // Unfit already but left its last use (or lost to a leaser): look again later.
            long grace = e.idleSince + LAST_USE_GRACE_NANOS;
            return grace - now > 0 ? grace : Nanos.plus(now, watchDelayNanos);
        }
        long idleLimit = idleLimitNanos(e.pool, maxIdleNanos, now);
        return Math.min(Nanos.plus(e.idleSince, idleLimit), Nanos.plus(e.createdAt, e.lifetimeNanos));
    }

    /**
     * Starts watching idle {@code e}: IDLE → WATCHED, then registration, all under
     * {@link #watchLock}, so a leaser that finds it WATCHED meanwhile waits for the registration
     * (microseconds, no user code) instead of passing it over and opening a new connection.
     */
    private void watch(PooledEntry<C> e, long now) {
        IdleRead read;
        watchLock.lock();
        try {
            if (!e.idle2watched()) {
                return; // a leaser took it
            }
            try {
                SocketChannel ch = e.channel();
                e.keepNonBlocking = !ch.isBlocking();
                ch.configureBlocking(false);
                read = IdleRead.classify(ch);
                if (read == IdleRead.NOTHING) {
                    e.watchKey = watcher.watch(ch, new EntryWatch(e));
                    return;
                }
            } catch (IOException | RuntimeException ex) {
                read = null;
            }
            e.watched2held(); // ours: it is closing or retiring, and counted idle until it has
        } finally {
            watchLock.unlock();
        }
        if (read == null) {
            engine.retire(e, CloseReason.BROKEN); // the socket died under us
        } else {
            // Already closed (or written to) before we started watching: the server closed
            // right after its response (a request limit, a restart), not on an idle timeout,
            // so this close teaches nothing about the timeout.
            onIdleRead(e, read, false, now);
        }
    }

    /** What the selector reported, handled under the lock on the watcher's thread (or a maintainer's). */
    private void onReadable(PooledEntry<C> e, long now) {
        if (finished) {
            return;
        }
        if (e.state() == PooledEntry.WATCHED && e.watched2held()) {
            // HELD while the watcher looks: still idle in the stats, neither a lease nor draining.
            IdleRead read = IdleRead.classify(e.channel());
            if (read == IdleRead.NOTHING) {
                rearm(e); // readable, then not: nothing to hold against it
                e.held2watched();
            } else {
                onIdleRead(e, read, true, now);
            }
        } else if (e.state() == PooledEntry.DRAINING) {
            if (!settleDraining(e, IdleRead.classify(e.channel()), now)) {
                rearm(e); // bytes (discarded) or nothing yet: the peer's FIN is still to come
            }
        }
    }

    /**
     * What a draining connection said decides its end: its peer's FIN or reset closes it
     * (passively), a flood closes it with RST; true if it was closed. Bytes (discarded) or
     * nothing yet: false, the peer's FIN is still to come. The caller holds the lock.
     */
    private boolean settleDraining(PooledEntry<C> e, IdleRead read, long now) {
        switch (read) {
            case FIN:
                if (e.finTeaches) {
                    // Retired for its idle age and awaited, the server's idle close; or a TLS
                    // close notice came first (PEER_CLOSED), then this FIN: learned as of the notice.
                    observeIdleClose(e, e.retireReason == CloseReason.PEER_CLOSED ? e.drainingSince : now);
                }
                closeDraining(e, false);
                return true;
            case ABORT:
                e.retireReason = CloseReason.ABORTED;
                closeDraining(e, false);
                return true;
            case FLOOD:
                closeDraining(e, true);
                return true;
            default:
                return false;
        }
    }

    /**
     * The one mapping from what an idle connection said to what happens to it. {@code e} is
     * owned by the caller (LEASED or HELD) and was not NOTHING. {@code learn}: whether a FIN now is the
     * server's idle timeout, to be learned from.
     */
    private void onIdleRead(PooledEntry<C> e, IdleRead read, boolean learn, long now) {
        switch (read) {
            case FIN:
                if (learn) {
                    observeIdleClose(e, now);
                }
                unwatch(e);
                engine.closeEntry(e, false, CloseReason.PEER_CLOSED);
                return;
            case ABORT:
                unwatch(e);
                engine.closeEntry(e, false, CloseReason.ABORTED);
                return;
            case FLOOD:
                unwatch(e);
                engine.closeEntry(e, true, CloseReason.UNEXPECTED_DATA);
                return;
            case TLS_CLOSE_NOTICE:
                // A TLS server's idle close (close_notify; its FIN follows): wait for the FIN and
                // learn from it; the records were consumed, so it can never be leased again.
                beginDrain(e, CloseReason.PEER_CLOSED, learn, now);
                return;
            default:
                // Out of step (other TLS records too: a KeyUpdate is no close); still let the peer
                // close first, and learn nothing from when it does.
                beginDrain(e, CloseReason.UNEXPECTED_DATA, false, now);
        }
    }

    private void beginDrain(PooledEntry<C> e, CloseReason reason, boolean finTeaches, long now) {
        e.retireReason = reason;
        e.finTeaches = finTeaches;
        engine.uncountRetired(e);
        engine.listeners.connectionRetiring(e.pool.endpoint, reason);
        e.drainingSince = now;
        SelectionKey key = (SelectionKey) e.watchKey;
        e.claim2draining();
        if (key != null && key.isValid()) {
            rearm(e);
        } else {
            register(e);
        }
        requestWalk(Nanos.plus(System.nanoTime(), drainTimeoutNanos));
    }

    /**
     * Learns from a server's close of an idle connection. A close within a few intervals of the
     * connection going idle is not an idle timeout: it is a request limit (nginx's
     * {@code keepalive_requests}), a restart, or a close right after the last response, and
     * learning it would stop all reuse.
     */
    private void observeIdleClose(PooledEntry<C> e, long now) {
        long age = now - e.idleSince;
        if (age >= minObservableIdleNanos) {
            e.pool.observeIdleClose(age, now);
        }
    }

    /**
     * Takes over a retiring connection (owned by the caller) until the peer closes it or the
     * drain timeout passes. {@code finTeaches}: whether the peer's FIN may be its idle timeout.
     */
    void drain(PooledEntry<C> e, CloseReason reason, boolean finTeaches) {
        e.retireReason = reason;
        e.finTeaches = finTeaches;
        e.drainingSince = engine.now();
        e.claim2draining();
        if (settledAlready(e)) {
            return;
        }
        register(e);
        requestWalk(Nanos.plus(System.nanoTime(), drainTimeoutNanos));
        if (stopping) {
            // Raced with the pool's close: if it has already closed what was draining, close this one.
            lock.lock();
            try {
                if (finished) {
                    closeDraining(e, resetFallback);
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * A connection often retires after its peer has closed it (a response that said
     * {@code Connection: close}, the server's FIN right behind it): one non-blocking look ends
     * such a connection here, passively, as the watcher would on finding the FIN, without
     * waking the watcher's thread for it. Anything else is left to the watcher.
     */
    private boolean settledAlready(PooledEntry<C> e) {
        IdleRead read;
        try {
            SocketChannel ch = e.channel();
            ch.configureBlocking(false); // as register() would
            read = IdleRead.classify(ch);
        } catch (IOException | RuntimeException ex) {
            return false; // register() meets it again and closes the connection
        }
        if (read != IdleRead.FIN && read != IdleRead.ABORT && read != IdleRead.FLOOD) {
            return false;
        }
        lock.lock();
        try {
            if (finished) {
                closeDraining(e, resetFallback); // raced with the pool's close, as drain() does
                return true;
            }
            return settleDraining(e, read, engine.now());
        } finally {
            lock.unlock();
        }
    }

    private void register(PooledEntry<C> e) {
        try {
            SocketChannel ch = e.channel();
            ch.configureBlocking(false);
            e.watchKey = watcher.watch(ch, new EntryWatch(e));
        } catch (IOException | RuntimeException ex) {
            lock.lock();
            try {
                closeDraining(e, resetFallback);
            } finally {
                lock.unlock();
            }
        }
    }

    private void rearm(PooledEntry<C> e) {
        SelectionKey key = (SelectionKey) e.watchKey;
        try {
            if (key != null) {
                key.interestOps(SelectionKey.OP_READ);
                return;
            }
        } catch (CancelledKeyException ignored) {
            // Fall through: register again.
        }
        register(e);
    }

    /** Closes a draining connection once, whoever gets there first (all callers hold the lock). */
    private void closeDraining(PooledEntry<C> e, boolean reset) {
        if (e.state() != PooledEntry.DRAINING) {
            return;
        }
        unwatch(e); // the state check above and closeEntry's CLOSED both happen under the lock: closed once
        engine.closeEntry(e, reset, e.retireReason);
    }

    /** Takes {@code e}'s channel off the selector, so that closing it takes effect at once. */
    private void unwatch(PooledEntry<C> e) {
        SelectionKey key = (SelectionKey) e.watchKey;
        e.watchKey = null;
        if (key == null) {
            return;
        }
        try {
            if (watcher.onWatcherThread()) {
                key.cancel(); // deregistered (and a closed channel released) by the select that follows
            } else {
                watcher.unwatch(key);
            }
        } catch (IOException | RuntimeException ignored) {
            // Closing anyway.
        }
    }

    /**
     * Takes a watched connection back, for a leaser ({@code forLease}: LEASED) or for a pool
     * thread that retires or closes it (HELD, still idle in the stats): checks what arrived,
     * deregisters it and returns it to blocking mode (unless its connector keeps it
     * non-blocking). Returns false if it is no longer watched (the watcher took it first) or it
     * must not be leased (then it has been closed or retired).
     */
    boolean reclaim(PooledEntry<C> e, boolean forLease) {
        watchLock.lock();
        try {
            if (!(forLease ? e.watched2claim() : e.watched2held())) {
                return false;
            }
        } finally {
            watchLock.unlock();
        }
        IdleRead read = IdleRead.classify(e.channel());
        if (read != IdleRead.NOTHING) {
            // The peer's FIN (or stray bytes) arrived before the watcher got to it: never hand
            // this one out. Reading was safe: nobody owns bytes on an idle connection.
            onIdleRead(e, read, true, engine.now());
            return false;
        }
        try {
            SelectionKey key = (SelectionKey) e.watchKey;
            e.watchKey = null;
            watcher.unwatch(key);
            if (!e.keepNonBlocking) {
                e.channel().configureBlocking(true);
            }
            return true;
        } catch (IOException | CancelledKeyException | java.nio.channels.IllegalBlockingModeException ex) {
            engine.retire(e, CloseReason.BROKEN);
            return false;
        }
    }

    /**
     * The lease path's check of an idle connection that is not watched (owned by the leaser):
     * whether anything arrived since it went idle. Returns false, having closed or retired it, if
     * anything did. A channel its connector keeps in non-blocking mode costs one non-blocking
     * read; a blocking one also a mode switch each way (two system calls each).
     */
    boolean quietSinceIdle(PooledEntry<C> e) {
        SocketChannel channel = e.channel();
        if (channel == null) {
            return true;
        }
        IdleRead read;
        try {
            boolean blocking = channel.isBlocking();
            if (blocking) {
                channel.configureBlocking(false);
            }
            read = IdleRead.classify(channel);
            if (read == IdleRead.NOTHING) {
                if (blocking) {
                    channel.configureBlocking(true);
                }
                return true;
            }
        } catch (IOException | RuntimeException ex) {
            read = IdleRead.ABORT;
        }
        onIdleRead(e, read, false, engine.now());
        return false;
    }

    /** Whether the calling thread is inside this pool's housekeeping (holds its lock). */
    boolean heldByCurrentThread() {
        return lock.isHeldByCurrentThread();
    }

    /**
     * Stops this pool's housekeeping and closes its idle and draining connections, on the
     * caller's thread, so that a closed pool holds no sockets (connections still leased close
     * when given back).
     */
    void shutdown() {
        stopping = true;
        watcher.cancel(this);
        lock.lock();
        try {
            if (finished) {
                return;
            }
            engine.closeRemaining();
            for (EndpointPool<C> ep : engine.endpointPools()) {
                for (PooledEntry<C> e : ep.entries()) {
                    closeDraining(e, resetFallback);
                }
            }
            readable.clear();
            finished = true;
        } finally {
            lock.unlock();
        }
    }

    /** The selector's callback for one of this pool's watched or draining connections. */
    private final class EntryWatch implements IdleWatcher.Readable {

        private final PooledEntry<C> entry;

        EntryWatch(PooledEntry<C> entry) {
            this.entry = entry;
        }

        @Override
        public void ready(SelectionKey key, long now) {
            try {
                key.interestOps(0); // until this pool's run has looked, so the selector does not spin on it
            } catch (CancelledKeyException reclaimed) {
                return; // a leaser took it back
            }
            readable.add(entry);
            watcher.schedule(Housekeeper.this, now);
        }
    }
}
