package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.Iterator;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The pool's one background thread: the idle watcher and the housekeeping in a single loop.
 *
 * <p>Idle connections are watched by readiness: after a connection has been idle for one tick it
 * is put in non-blocking mode and registered with a {@link Selector} for OP_READ. An idle
 * connection owes us nothing, so readiness means either the peer's FIN (close passively, at
 * once: no CLOSE_WAIT lingers, no stale lease) or bytes we did not ask for (the stream is out of
 * step: the connection is retired, never leased again). The watcher reads only after it has
 * taken the connection out of the pool (WATCHED → DRAINING, under the lock that a reclaiming
 * leaser also takes), so it never consumes a byte that a protocol would read after a lease. For
 * TLS that holds too: the watcher sees only ciphertext readiness, and whatever it then reads
 * (a close_notify alert, say) belongs to a connection that is already leaving. Connections that
 * are reused within a tick are never registered, so the hot path pays nothing for watching.
 *
 * <p>Concurrency: everything that touches the selector's keys, and every move out of WATCHED or
 * DRAINING, happens under {@link #lock}. Leasers take the lock only to reclaim a watched
 * connection (the cold path after an idle pause).
 */
final class Housekeeper<C> implements Runnable {

    private static final System.Logger LOG = System.getLogger(Housekeeper.class.getName());

    private final PoolEngine<C> engine;
    private final long tickMillis;
    private final long watchDelayNanos;
    private final long drainTimeoutNanos;
    private final long marginCapNanos;
    /** Idle ages below this at the server's close are not taken for its idle timeout. */
    private final long minObservableIdleNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private final ConcurrentLinkedQueue<PooledEntry<C>> toDrain = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean started = new AtomicBoolean();
    private static final long KERNEL_REFRESH_NANOS = 1_000_000_000L;
    private final io.github.portkeeper.core.PortBudget portBudget;
    final KernelPortCounter kernel = new KernelPortCounter();
    private long lastKernelRefresh = Long.MIN_VALUE / 2;
    private volatile boolean stopping;
    private boolean finished;
    private volatile Selector selector;
    private Thread thread;

    Housekeeper(PoolEngine<C> engine, PoolConfig config) {
        this.engine = engine;
        this.tickMillis = Math.max(1, config.housekeepingInterval().toMillis());
        this.watchDelayNanos = config.housekeepingInterval().toNanos();
        this.drainTimeoutNanos = config.retirement().drainTimeout().toNanos();
        this.marginCapNanos = config.idleTimeoutMargin().toNanos();
        this.minObservableIdleNanos = Math.max(50_000_000L, 3 * config.housekeepingInterval().toNanos());
        this.portBudget = config.portBudget();
    }

    /** Starts the thread on first use, so a pool that never connects costs no thread. */
    void ensureStarted() {
        if (started.get() || !started.compareAndSet(false, true)) {
            return;
        }
        try {
            selector = Selector.open();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot open the idle watcher's selector", e);
        }
        thread = new Thread(this, "portkeeper-housekeeper-" + engine.config().name());
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * The idle age past which a connection of {@code ep} must not be leased: the pool's maximum
     * idle time, or the server's known idle timeout minus a safety margin if that is sooner.
     */
    long idleLimitNanos(EndpointPool<C> ep, long maxIdleNanos) {
        long server = ep.serverIdleTimeoutNanos();
        if (server == Long.MAX_VALUE) {
            return maxIdleNanos;
        }
        long margin = Math.min(marginCapNanos, server / 4);
        return Math.min(maxIdleNanos, server - margin);
    }

    @Override
    public void run() {
        try {
            while (!stopping) {
                selector.select(tickMillis);
                runOnce();
                refreshKernelCounts();
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "Housekeeper of pool '" + engine.config().name() + "' failed", e);
        } finally {
            finish();
        }
    }

    /** One round: readiness, new drains, expiry, leaks, drain timeouts, new watches. */
    void runOnce() {
        lock.lock();
        try {
            long now = engine.now();
            Selector sel = selector;
            if (sel != null) {
                handleReadiness(sel, now);
                registerDrains(sel);
            }
            engine.checkIdleAndLeaks(now);
            for (EndpointPool<C> ep : engine.endpointPools()) {
                for (PooledEntry<C> e : ep.entries()) {
                    int s = e.state();
                    if (s == PooledEntry.DRAINING) {
                        if (now - e.drainingSince >= drainTimeoutNanos) {
                            engine.closeEntry(e, engine.config().retirement().fallback() == Ending.RESET, e.retireReason);
                        }
                    } else if (s == PooledEntry.IDLE && sel != null && e.channel() != null
                            && now - e.idleSince >= watchDelayNanos && e.casState(PooledEntry.IDLE, PooledEntry.WATCHED)) {
                        watch(sel, e);
                    }
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private void watch(Selector sel, PooledEntry<C> e) {
        try {
            e.channel().configureBlocking(false);
            int first = SocketCloser.readIdleHead(e.channel());
            if (first != SocketCloser.HEAD_NOTHING) {
                // Already closed (or written to) before we started watching: the server closed
                // right after its response (a request limit, a restart), not on an idle timeout,
                // so this close teaches nothing about the timeout.
                long now = engine.now();
                e.setState(PooledEntry.DRAINING);
                e.drainingSince = now;
                handleIdleReadable(e, false, first);
                if (e.state() == PooledEntry.DRAINING) {
                    e.watchKey = e.channel().register(sel, SelectionKey.OP_READ, e); // await the FIN
                }
                return;
            }
            e.watchKey = e.channel().register(sel, SelectionKey.OP_READ, e);
        } catch (IOException | RuntimeException ex) {
            // The socket died under us: we own it (WATCHED, under the lock), so close it.
            e.setState(PooledEntry.LEASED);
            engine.retire(e, CloseReason.BROKEN);
        }
    }

    private void handleReadiness(Selector sel, long now) {
        if (sel.selectedKeys().isEmpty()) {
            return;
        }
        Iterator<SelectionKey> it = sel.selectedKeys().iterator();
        while (it.hasNext()) {
            SelectionKey key = it.next();
            it.remove();
            @SuppressWarnings("unchecked")
            PooledEntry<C> e = (PooledEntry<C>) key.attachment();
            int s = e.state();
            if (s == PooledEntry.WATCHED) {
                e.setState(PooledEntry.DRAINING);
                e.drainingSince = now;
                handleIdleReadable(e, true);
            } else if (s == PooledEntry.DRAINING) {
                int fin = SocketCloser.peerFinArrived(e.channel());
                if (fin > 0) {
                    CloseReason reason = e.retireReason;
                    if (reason == CloseReason.IDLE_TIMEOUT) {
                        observeIdleClose(e, now);
                    } else if (reason == CloseReason.PEER_CLOSED) {
                        // A TLS close notice came first; the idle timeout struck when it arrived.
                        observeIdleClose(e, e.drainingSince);
                    }
                    engine.closeEntry(e, false, reason);
                }
            }
        }
    }

    /**
     * Learns from a server's close of an idle connection. A close within a few ticks of the
     * connection going idle is not an idle timeout: it is a request limit (nginx's
     * {@code keepalive_requests}), a restart, or a close right after the last response, and
     * learning it would stop all reuse.
     */
    private void observeIdleClose(PooledEntry<C> e, long now) {
        long age = now - e.idleSince;
        if (age >= minObservableIdleNanos) {
            e.pool.observeIdleClose(age);
        }
    }

    /**
     * An idle connection became readable: the peer's FIN, or bytes nobody asked for.
     * {@code learn}: whether a FIN now is the server's idle timeout, to be learned from. */
    private void handleIdleReadable(PooledEntry<C> e, boolean learn) {
        handleIdleReadable(e, learn, SocketCloser.readIdleHead(e.channel()));
    }

    /** As above, with {@code first}: what a look at the channel already read (a SocketCloser HEAD_ value). */
    private void handleIdleReadable(PooledEntry<C> e, boolean learn, int first) {
        long now = engine.now();
        int fin = first == SocketCloser.HEAD_FIN ? 1 : SocketCloser.peerFinArrived(e.channel());
        if (fin == 0 && first == SocketCloser.HEAD_TLS_RECORD) {
            // One TLS record and no FIN yet: a TLS server's idle close (close_notify; its FIN
            // follows). Not a stream out of step: wait for the FIN and learn from it.
            e.retireReason = learn ? CloseReason.PEER_CLOSED : CloseReason.UNEXPECTED_DATA;
            engine.uncountRetired(e);
            engine.listeners.connectionRetiring(e.pool.endpoint, e.retireReason);
            return;
        }
        if (fin > 0) {
            if (learn) {
                observeIdleClose(e, now);
            }
            engine.closeEntry(e, false, CloseReason.PEER_CLOSED);
        } else if (fin < 0) {
            engine.closeEntry(e, true, CloseReason.UNEXPECTED_DATA);
        } else {
            // Out of step: never lease it again, but still let the peer close first.
            e.retireReason = CloseReason.UNEXPECTED_DATA;
            engine.uncountRetired(e);
            engine.listeners.connectionRetiring(e.pool.endpoint, CloseReason.UNEXPECTED_DATA);
        }
    }

    private void registerDrains(Selector sel) {
        PooledEntry<C> e;
        while ((e = toDrain.poll()) != null) {
            try {
                e.channel().configureBlocking(false);
                e.watchKey = e.channel().register(sel, SelectionKey.OP_READ, e);
            } catch (IOException | RuntimeException ex) {
                if (e.state() == PooledEntry.DRAINING) {
                    engine.closeEntry(e, true, e.retireReason);
                }
            }
        }
    }

    /**
     * Once a second, counts every socket on this host toward each endpoint from the kernel, so
     * the port budget sees other pools' and processes' ports. Runs outside the lock: resolving a
     * host name may block.
     */
    private void refreshKernelCounts() {
        if (!portBudget.isEnabled() || !portBudget.usesKernel() || !kernel.isAvailable()) {
            return;
        }
        long now = engine.now();
        if (now - lastKernelRefresh < KERNEL_REFRESH_NANOS) {
            return;
        }
        lastKernelRefresh = now;
        int perEndpoint = portBudget.perEndpoint();
        java.util.List<EndpointPool<C>> due = new java.util.ArrayList<>();
        for (EndpointPool<C> ep : engine.endpointPools()) {
            // Worth a read of the whole table: endpoints where others were seen holding ports, or
            // that this pool already uses a tenth of the budget toward.
            io.github.portkeeper.core.PortBudgetSnapshot.EndpointBudget u = ep.ports.usage(perEndpoint, now);
            if (u.otherSockets() > 0 || u.used() * 10 >= perEndpoint) {
                due.add(ep);
            }
        }
        if (!due.isEmpty()) {
            kernel.refresh(due, now);
        }
    }

    /** Takes over a retiring connection (owned by the caller) until the peer closes it or the drain timeout passes. */
    void drain(PooledEntry<C> e, CloseReason reason) {
        e.retireReason = reason;
        e.drainingSince = engine.now();
        e.setState(PooledEntry.DRAINING);
        toDrain.add(e);
        Selector sel = selector;
        if (sel != null) {
            sel.wakeup();
        }
        if (stopping) {
            // Raced with the pool's close: if the housekeeper has already finished, close it here.
            lock.lock();
            try {
                if (finished) {
                    PooledEntry<C> x;
                    while ((x = toDrain.poll()) != null) {
                        if (x.state() == PooledEntry.DRAINING) { // finish() may have closed it already
                            engine.closeEntry(x, engine.config().retirement().fallback() == Ending.RESET, x.retireReason);
                        }
                    }
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Takes a watched connection back for a leaser: deregisters it and returns it to blocking
     * mode. Returns false if it is no longer watched (the watcher retired it first).
     */
    boolean reclaim(PooledEntry<C> e) {
        lock.lock();
        try {
            if (!e.casState(PooledEntry.WATCHED, PooledEntry.LEASED)) {
                return false;
            }
            int first = SocketCloser.readIdleHead(e.channel());
            if (first != SocketCloser.HEAD_NOTHING) {
                // The peer's FIN (or stray bytes) arrived before the watcher got to it: never
                // hand this one out. Reading is safe: nobody owns bytes on an idle connection.
                long now = engine.now();
                e.setState(PooledEntry.DRAINING);
                e.drainingSince = now;
                handleIdleReadable(e, true, first);
                return false;
            }
            SelectionKey key = (SelectionKey) e.watchKey;
            e.watchKey = null;
            try {
                if (key != null) {
                    key.cancel();
                    Selector sel = selector;
                    if (sel != null) {
                        // The cancelled key is deregistered by the next selection; the watcher
                        // thread is woken out of select() so this one can run at once.
                        sel.wakeup();
                        sel.selectNow();
                    }
                }
                e.channel().configureBlocking(true);
                return true;
            } catch (IOException | CancelledKeyException | java.nio.channels.IllegalBlockingModeException ex) {
                engine.retire(e, CloseReason.BROKEN);
                return false;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops the thread and returns once it has closed the idle and draining connections, so that
     * a closed pool holds no sockets (connections still leased close when given back).
     */
    void shutdown() {
        stopping = true;
        if (started.compareAndSet(false, true)) {
            finish();
            return;
        }
        Selector sel = selector;
        Thread t = thread;
        if (sel == null || t == null) {
            return; // Being started concurrently; its loop sees stopping and finishes.
        }
        sel.wakeup();
        if (t != Thread.currentThread()) {
            boolean interrupted = false;
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
            while (t.isAlive() && System.nanoTime() < deadline) {
                try {
                    t.join(100);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Closes what is left, on the housekeeper's thread (or the closer's if it never started). */
    private void finish() {
        lock.lock();
        try {
            Selector sel = selector;
            if (sel != null) {
                registerDrains(sel);
            }
            engine.closeRemaining();
            boolean reset = engine.config().retirement().fallback() == Ending.RESET;
            for (EndpointPool<C> ep : engine.endpointPools()) {
                for (PooledEntry<C> e : ep.entries()) {
                    if (e.state() == PooledEntry.DRAINING) {
                        engine.closeEntry(e, reset, e.retireReason);
                    }
                }
            }
            finished = true;
            if (sel != null) {
                try {
                    sel.close();
                } catch (IOException ignored) {
                    // Closing the pool; nothing more to release.
                }
            }
        } finally {
            lock.unlock();
        }
    }


}
