package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.Retirement;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The JVM's one idle watcher: a single daemon thread with one {@link Selector} for the readiness
 * of every pool's idle and draining connections, and a timer for every pool's housekeeping.
 *
 * <p>It sleeps until the next deadline any {@link Task} asked for (OkHttp's connection cleanup
 * returns its next run time the same way), or until a watched socket becomes readable. With
 * nothing idle-unwatched, draining or leased past a leak threshold it does not wake at all, and
 * with nothing to watch or schedule for {@link #LINGER_NANOS} its thread ends; the next
 * registration starts a new one. So does it if the thread could not be started, or ended on a
 * failure of its own: the watcher never stops for good.
 *
 * <p>User code (listeners, connectors' goodbyes and disposal) never runs on this thread: what
 * would call it from here is handed to {@link #offload}, one worker thread that exists only
 * while it has work. A task or a readiness callback that throws is logged and the watcher goes
 * on; the next deadline of a task that threw is one second later.
 *
 * <p>The lock guards the selector's selected-key set and the thread's start and end; it is
 * never held while a task, a callback or user code runs.
 *
 * <p>Thread-safe.
 */
public final class IdleWatcher {

    private static final System.Logger LOG = System.getLogger(IdleWatcher.class.getName());

    /** A deadline that never comes. */
    public static final long NEVER = Long.MAX_VALUE;
    private static final long AWAKE = Long.MAX_VALUE;
    private static final long RETRY_AFTER_FAILURE_NANOS = TimeUnit.SECONDS.toNanos(1);
    /**
     * How long the thread stays with nothing to do before it ends. A busy pool's connections are
     * leased most of the time, so its rounds often find nothing due and the next release asks
     * for a round a moment later: ending at once would start a thread per round.
     */
    static final long LINGER_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** Sockets drained for others ({@link #drain}) at most at once; past it the fallback closes at once. */
    static final int MAX_FOREIGN_DRAINS = 4096;

    private static final IdleWatcher SHARED = new IdleWatcher("portkeeper-watcher");

    /** The watcher shared by every pool of this JVM. */
    public static IdleWatcher shared() {
        return SHARED;
    }

    /**
     * Work the watcher runs by its own deadline. {@link #run} is called on the watcher's thread,
     * never concurrently with itself.
     */
    public abstract static class Task {

        private final AtomicLong due = new AtomicLong(NEVER);
        /** Set for good by {@link #cancel}: a schedule racing it must not put the task back. */
        private volatile boolean cancelled;

        /**
         * Runs the work that is due. Must not block or call user code (use {@link #offload}).
         *
         * @param now {@link System#nanoTime()}
         * @return the {@link System#nanoTime()} at which to run next, or {@link #NEVER}
         */
        protected abstract long run(long now);
    }

    /** A watched channel's callback, run on the watcher's thread when the channel is readable. */
    interface Readable {
        void ready(SelectionKey key, long now);
    }

    /**
     * How a socket drained for others ({@link #drain}) ended.
     *
     * @param ending         {@link Ending#PEER} if the peer's FIN came within the drain timeout,
     *                       {@link Ending#ABORTED} if the peer reset it, else the retirement's
     *                       fallback ({@link Ending#RESET} or {@link Ending#LOCAL})
     * @param bytesDiscarded bytes that arrived while draining and were thrown away
     */
    public record Drained(Ending ending, long bytesDiscarded) {
    }

    private final String threadName;
    private final ReentrantLock lock = new ReentrantLock();
    private final Selector selector;
    private final Set<Task> tasks = ConcurrentHashMap.newKeySet();
    private final ForeignDrains foreign = new ForeignDrains(this);
    private final AtomicInteger foreignCount = new AtomicInteger();
    private final ThreadPoolExecutor worker;
    /** Reads of the kernel's socket table for the port budget: apart, so a long read never delays listener events. */
    private final ThreadPoolExecutor reader;
    /**
     * Host-name lookups for the kernel counts ({@link EndpointAddresses}): never on the reader,
     * where one slow name would hold up every count of the JVM, and each on a thread of its own
     * (started for it, up to {@link #LOOKUP_THREADS}), so names that hang until the resolver
     * times out, looked up again every DNS cache TTL, hold up no other, nor a new endpoint's
     * first lookup. A name has at most one lookup under way, so the threads follow the names
     * being looked up at once; past the cap, lookups wait their turn.
     */
    private final ThreadPoolExecutor lookups;
    /** Lookups that may run at once: a cap against a host with many names that all hang. */
    static final int LOOKUP_THREADS = 64;
    /** When the thread will wake on its own ({@link System#nanoTime()}), or {@link #AWAKE}. */
    private volatile long sleepUntil = AWAKE;
    private volatile boolean running;
    private volatile Thread thread;
    /** Threads started so far (for tests). */
    private final AtomicLong threadStarts = new AtomicLong();
    /** Times another thread woke the sleeping watcher to move its deadline earlier (for tests). */
    private final AtomicLong scheduleWakeups = new AtomicLong();

    /** Makes the watcher's threads: a seam for tests, which make one fail to start. */
    @FunctionalInterface
    interface Threads {
        Thread newThread(Runnable work, String name);
    }

    private final Threads threads;

    IdleWatcher(String threadName) {
        this(threadName, IdleWatcher::daemon);
    }

    IdleWatcher(String threadName, Threads threads) {
        this.threadName = threadName;
        this.threads = threads;
        try {
            this.selector = Selector.open();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot open the idle watcher's selector", e);
        }
        this.worker = singleOnDemand(threadName + "-worker", threads);
        this.reader = singleOnDemand(threadName + "-kernel", threads);
        this.lookups = onDemand(threadName + "-lookup", LOOKUP_THREADS, threads);
    }

    /**
     * A daemon thread: every thread of the watcher is one. Its context class loader is this
     * library's, not that of whichever thread happened to start it: the threads are shared by
     * every pool of the JVM and outlive their starter, so inheriting it would pin, say, an
     * undeployed web application's loader, and run another application's listeners under it.
     */
    private static Thread daemon(Runnable work, String name) {
        Thread t = new Thread(work, name);
        t.setDaemon(true);
        t.setContextClassLoader(IdleWatcher.class.getClassLoader());
        return t;
    }

    /** One daemon thread that exists only while it has work (it ends after a second without). */
    private static ThreadPoolExecutor singleOnDemand(String name, Threads threads) {
        return new ThreadPoolExecutor(0, 1, 1, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> threads.newThread(r, name));
    }

    /**
     * Up to {@code max} daemon threads, each of which exists only while there is work (it ends
     * after a second without). Below the cap a task gets a new thread even if another is idle
     * (a core thread is started per task), so a task queues only behind {@code max} running ones.
     */
    private static ThreadPoolExecutor onDemand(String name, int max, Threads threads) {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(max, max, 1, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                r -> threads.newThread(r, name));
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    /** Whether the caller is the watcher's thread (where user code must not run). */
    public boolean onWatcherThread() {
        return Thread.currentThread() == thread;
    }

    /**
     * Runs {@code work} off the watcher's thread: on the worker if called from the watcher's
     * thread, else here and now. Work that throws is logged.
     */
    public void offload(Runnable work) {
        if (onWatcherThread()) {
            worker.execute(() -> runLogged(work));
        } else {
            work.run();
        }
    }

    /** Runs {@code work} on the worker thread, whoever calls. */
    void runOnWorker(Runnable work) {
        worker.execute(() -> runLogged(work));
    }

    /** Runs a read of the kernel's socket table on its own on-demand thread. */
    void runKernelRead(Runnable read) {
        reader.execute(() -> runLogged(read));
    }

    /** Runs a host-name lookup for the kernel counts on a thread of the lookups' own. */
    void runLookup(Runnable lookup) {
        lookups.execute(() -> runLogged(lookup));
    }

    private static void runLogged(Runnable work) {
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.WARNING, "Work handed off by the idle watcher failed", e);
        }
    }

    // ------------------------------------------------------------------ tasks

    /**
     * Asks for {@code task} to run at {@code at} ({@link System#nanoTime()}) or sooner. Cheap if
     * it already will. Does nothing once the task is {@linkplain #cancel cancelled}.
     */
    public void schedule(Task task, long at) {
        long d;
        do {
            d = task.due.get();
            if (d <= at) {
                if (!running && !task.cancelled) {
                    ensureRunning(); // due already, but no thread started for it (a start failed)
                }
                return;
            }
        } while (!task.due.compareAndSet(d, at));
        tasks.add(task);
        // Read after the add, as cancel() writes the flag before its remove: of a schedule and
        // a cancel that race, at least one sees the other, so a cancelled task never stays.
        if (task.cancelled) {
            tasks.remove(task);
            task.due.set(NEVER);
            return;
        }
        if (!running) {
            ensureRunning();
        } else if (at < sleepUntil && !onWatcherThread()) {
            scheduleWakeups.incrementAndGet();
            selector.wakeup();
        }
    }

    private static void lowerDue(Task task, long at) {
        long d;
        do {
            d = task.due.get();
        } while (at < d && !task.due.compareAndSet(d, at));
    }

    /**
     * Stops running {@code task} for good: a later or racing {@link #schedule} of it does nothing,
     * so the watcher (shared by the whole JVM) keeps no reference to it.
     */
    public void cancel(Task task) {
        task.cancelled = true;
        tasks.remove(task);
        task.due.set(NEVER);
    }

    // ------------------------------------------------------------------ channels

    /**
     * Registers {@code channel} (non-blocking, owned by the caller) for readability; {@code
     * readable} is called on the watcher's thread each time it is readable, until the key is
     * cancelled or its interest cleared.
     */
    SelectionKey watch(SocketChannel channel, Readable readable) throws IOException {
        lock.lock();
        try {
            SelectionKey key = channel.register(selector, SelectionKey.OP_READ, readable);
            if (!running) {
                ensureRunning();
            } else if (!onWatcherThread()) {
                selector.wakeup(); // a registration takes effect at the next select
            }
            return key;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes {@code key}'s channel off the selector so that it can go back to blocking mode. Any
     * thread; returns once the key is deregistered.
     */
    void unwatch(SelectionKey key) throws IOException {
        if (key == null) {
            return;
        }
        key.cancel();
        lock.lock();
        try {
            // A cancelled key is deregistered by the next selection: wake the watcher out of
            // select() so that this one can run at once.
            selector.wakeup();
            selector.selectNow();
            if (!selector.selectedKeys().isEmpty()) {
                selector.wakeup(); // what selectNow found is the watcher's to handle
            }
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ draining for others

    /**
     * Drains a socket that belongs to no pool (for example one a close-owning
     * {@code SocketFactory}'s user closed): the watcher owns {@code channel} from now on and
     * closes it the way {@code retirement} says.
     *
     * <ul>
     *   <li>{@code AWAIT_PEER} and {@code REQUEST_PEER_CLOSE} (the caller has said its goodbye):
     *       wait for the peer's FIN and close passively ({@link Ending#PEER}); bytes that arrive
     *       meanwhile are discarded and counted; a reset ends it {@link Ending#ABORTED}; once the
     *       drain timeout has passed, close by the fallback ({@link Ending#RESET} or
     *       {@link Ending#LOCAL}). With {@value #MAX_FOREIGN_DRAINS} sockets already draining,
     *       the fallback applies at once.</li>
     *   <li>{@code RESET} and {@code LOCAL}: close at once that way (a FIN that already arrived
     *       still makes it {@link Ending#PEER}).</li>
     * </ul>
     *
     * @param channel    a connected channel nobody else uses any more; it may be blocking and
     *                   must not be registered with another selector
     * @param retirement how to close it
     * @param onEnd      told once how it ended, never on the watcher's thread and never under a
     *                   lock of the watcher
     */
    public void drain(SocketChannel channel, Retirement retirement, Consumer<Drained> onEnd) {
        foreign.start(channel, retirement, onEnd);
    }

    /** Sockets being drained for others right now. */
    public int foreignDraining() {
        return foreignCount.get();
    }

    AtomicInteger foreignCount() {
        return foreignCount;
    }

    // ------------------------------------------------------------------ the thread

    /**
     * Starts the thread unless it runs. If it cannot be started (no memory for another native
     * thread), that is logged and the watcher is left not running, with its work registered:
     * the next schedule or registration tries again. A caller is never failed for it: it only
     * asked for work to be done later.
     */
    private void ensureRunning() {
        lock.lock();
        try {
            if (running) {
                return;
            }
            Thread t;
            try {
                t = threads.newThread(this::runThread, threadName);
                thread = t;
                running = true;
                t.start();
            } catch (RuntimeException | Error e) {
                running = false;
                thread = null;
                LOG.log(System.Logger.Level.ERROR, "Cannot start the idle watcher's thread; the next registration tries again", e);
                return;
            }
            threadStarts.incrementAndGet();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The thread's body: the loop, and if anything ever gets out of it (it catches what tasks
     * and callbacks throw, so only a failure of its own, such as an OutOfMemoryError between
     * them), a watcher that is not running any more and a new thread if work is left.
     */
    private void runThread() {
        try {
            loop();
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, "Idle watcher's thread failed; a new one takes over", t);
        } finally {
            boolean restart = false;
            lock.lock();
            try {
                if (thread == Thread.currentThread()) { // not yet cleared by the loop's own end
                    running = false;
                    thread = null;
                    restart = anyTaskDue() || !selector.keys().isEmpty();
                }
            } finally {
                lock.unlock();
            }
            if (restart) {
                ensureRunning();
            }
        }
    }

    private void loop() {
        List<SelectionKey> ready = new ArrayList<>();
        long lingerUntil = NEVER;
        for (;;) {
            long now = System.nanoTime();
            long next = runDueTasks(now);
            long timeoutMillis;
            lock.lock();
            try {
                if (next == NEVER && selector.selectedKeys().isEmpty() && onlyCancelledKeys()) {
                    // Keys cancelled on this thread (a watched socket closed) stay in the key set
                    // until a select: without one, nothing looks like something, and the select
                    // below would block with no timeout, on no key. This one deregisters them
                    // (and lets their closed sockets go); what it finds ready is handled below.
                    selectNowLogged();
                }
                boolean nothing = next == NEVER && selector.keys().isEmpty() && selector.selectedKeys().isEmpty();
                if (!nothing) {
                    lingerUntil = NEVER;
                } else if (lingerUntil == NEVER) {
                    lingerUntil = now + LINGER_NANOS; // one more wakeup, then end if still nothing
                    next = lingerUntil;
                } else if (lingerUntil - now > 0) {
                    next = lingerUntil;
                }
                if (nothing && next == NEVER) {
                    running = false;
                    // Re-check after publishing: a task scheduled meanwhile saw us running.
                    if (!anyTaskDue() && selector.keys().isEmpty()) {
                        thread = null;
                        return;
                    }
                    running = true;
                    continue;
                }
                sleepUntil = next;
                timeoutMillis = selector.selectedKeys().isEmpty() ? millisUntil(next, now) : -1;
            } finally {
                lock.unlock();
            }
            try {
                if (timeoutMillis < 0) {
                    selector.selectNow();
                } else {
                    selector.select(timeoutMillis);
                }
            } catch (Throwable e) {
                LOG.log(System.Logger.Level.ERROR, "Idle watcher's selector failed", e);
            }
            sleepUntil = AWAKE;
            lock.lock();
            try {
                ready.addAll(selector.selectedKeys());
                selector.selectedKeys().clear();
            } finally {
                lock.unlock();
            }
            long t = System.nanoTime();
            for (SelectionKey key : ready) {
                try {
                    if (key.isValid()) {
                        ((Readable) key.attachment()).ready(key, t);
                    }
                } catch (Throwable e) { // also what is thrown past the compiler's checks
                    LOG.log(System.Logger.Level.ERROR, "Idle watcher callback failed; watching goes on", e);
                }
            }
            ready.clear();
        }
    }

    /**
     * Whether the selector has keys and every one is cancelled. Called under the lock, which
     * every registration and every other thread's select takes, so the key set does not change
     * meanwhile; the look stops at the first valid key.
     */
    private boolean onlyCancelledKeys() {
        Set<SelectionKey> keys = selector.keys();
        if (keys.isEmpty()) {
            return false;
        }
        for (SelectionKey key : keys) {
            if (key.isValid()) {
                return false;
            }
        }
        return true;
    }

    private void selectNowLogged() {
        try {
            selector.selectNow();
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "Idle watcher's selector failed", e);
        }
    }

    private boolean anyTaskDue() {
        for (Task task : tasks) {
            if (task.due.get() != NEVER) {
                return true;
            }
        }
        return false;
    }

    /** Runs every task that is due; returns the earliest deadline left. */
    private long runDueTasks(long now) {
        long next = NEVER;
        for (Task task : tasks) {
            long d = task.due.get();
            if (d - now <= 0) {
                task.due.compareAndSet(d, NEVER);
                long again;
                try {
                    again = task.run(now);
                } catch (Throwable e) { // also what is thrown past the compiler's checks
                    LOG.log(System.Logger.Level.ERROR, "Housekeeping task failed; it runs again in a second", e);
                    again = now + RETRY_AFTER_FAILURE_NANOS;
                }
                if (again != NEVER) {
                    lowerDue(task, again); // no wakeup: this thread computes its sleep next
                }
                d = task.due.get();
            }
            if (d != NEVER && d < next) {
                next = d;
            }
        }
        return next;
    }

    private static long millisUntil(long deadline, long now) {
        if (deadline == NEVER) {
            return 0; // select() without timeout
        }
        long nanos = deadline - now;
        return nanos <= 0 ? -1 : Math.max(1, (nanos + 999_999) / 1_000_000);
    }

    long threadStarts() {
        return threadStarts.get();
    }

    /** Whether {@code task} is among the tasks this watcher runs (for tests). */
    boolean holds(Task task) {
        return tasks.contains(task);
    }

    long scheduleWakeups() {
        return scheduleWakeups.get();
    }

    ForeignDrains foreignDrains() {
        return foreign;
    }
}
