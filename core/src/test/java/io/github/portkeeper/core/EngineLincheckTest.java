package io.github.portkeeper.core;

import io.github.portkeeper.core.internal.IdleWatcher;
import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.lincheck.datastructures.ManagedStrategyGuaranteeKt;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.ThreadIdGen;
import org.jetbrains.lincheck.datastructures.Validate;
import org.jetbrains.lincheck.util.LoggingLevel;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Lincheck, model-checking strategy: explores interleavings of lease, close, a second close,
 * abort (by the holder and by another thread), retire, pool close and housekeeping rounds on two
 * threads, switching threads at shared-memory accesses. Each thread holds at most one lease
 * across operations, so a second close can meet the connection's next holder. The interleavings
 * are sampled (150 per scenario), not all enumerated.
 *
 * <p>The specification is safety: operations return nothing, so any exception is a failure.
 * A lease checks that it is its connection's only holder and that the connection is open;
 * {@link #countsBalance()} checks after each run that the books balance (every connection
 * opened is closed, idle or leased; the pool counts exactly the leased and idle ones) and that a
 * closed pool keeps no idle connection. The stub connector fails on a second dispose.
 */
public class EngineLincheckTest {

    private static final Endpoint A = Endpoint.of("a.example", 80);
    private static final Duration MAX_IDLE = Duration.ofSeconds(30);
    private static final String INTERNAL = "io.github.portkeeper.core.internal.";
    /** Thread ids: 0 for the part before, 1 and 2 for the two threads, 3 for the part after. */
    private static final int SLOTS = 4;

    private final StubConnector connector = new StubConnector();
    private final FakeTicker ticker = new FakeTicker();
    private final Pool<StubConnection> pool = Pool.of(connector, PoolConfig.builder()
            .maxPerEndpoint(1).maxTotal(1).ticker(ticker).lifetimeJitter(Duration.ZERO)
            .maxIdleTime(MAX_IDLE).housekeepingInterval(Duration.ofHours(1))
            .retirement(Retirement.reset()).portBudget(PortBudget.disabled()).build());
    /** Each thread's open lease, or null. */
    private final AtomicReferenceArray<Lease<StubConnection>> held = new AtomicReferenceArray<>(SLOTS);
    /** Each thread's last closed lease: the stale handle a second close or a late abort uses. */
    private final AtomicReferenceArray<Lease<StubConnection>> closed = new AtomicReferenceArray<>(SLOTS);

    @Operation
    public void lease(@Param(gen = ThreadIdGen.class) int thread) {
        if (held.get(thread) != null) {
            return;
        }
        Lease<StubConnection> lease;
        try {
            lease = pool.lease(A, Duration.ZERO);
        } catch (IOException busyOrClosed) {
            return; // none free without waiting, or the pool is closed: both are fine
        }
        StubConnection c = lease.connection();
        if (c.holders.incrementAndGet() != 1) {
            throw new AssertionError("two holders of " + c);
        }
        if (c.disposed.get()) {
            throw new AssertionError("leased a closed connection: " + c);
        }
        held.set(thread, lease);
    }

    @Operation
    public void close(@Param(gen = ThreadIdGen.class) int thread) {
        Lease<StubConnection> lease = held.get(thread);
        if (lease != null) {
            held.set(thread, null);
            lease.connection().holders.decrementAndGet();
            lease.close();
            closed.set(thread, lease);
        }
    }

    /** A second close of this thread's last lease (try-with-resources plus an explicit close), and a late abort of it. */
    @Operation
    public void closeAgain(@Param(gen = ThreadIdGen.class) int thread) {
        Lease<StubConnection> old = closed.get(thread);
        if (old != null) {
            old.close();
            old.abort();
        }
    }

    @Operation
    public void abort(@Param(gen = ThreadIdGen.class) int thread) {
        Lease<StubConnection> lease = held.get(thread);
        if (lease != null) {
            lease.abort();
        }
    }

    @Operation
    public void retire(@Param(gen = ThreadIdGen.class) int thread) {
        Lease<StubConnection> lease = held.get(thread);
        if (lease != null) {
            lease.retire();
        }
    }

    /** A canceller: aborts the other threads' leases, the open ones and the ones closed already (then a no-op). */
    @Operation
    public void abortOthers(@Param(gen = ThreadIdGen.class) int thread) {
        for (int i = 0; i < SLOTS; i++) {
            if (i != thread) {
                Lease<StubConnection> open = held.get(i);
                if (open != null) {
                    open.abort();
                }
                Lease<StubConnection> old = closed.get(i);
                if (old != null) {
                    old.abort();
                }
            }
        }
    }

    @Operation
    public void retireIdle() {
        pool.retireIdle((connection, idle) -> true);
    }

    /** A housekeeping round, as the idle watcher runs it, once the idle connections have expired. */
    @Operation
    public void housekeepingAfterIdleExpiry() {
        ticker.advance(MAX_IDLE.plusSeconds(1));
        pool.engine().maintain();
    }

    @Operation
    public void closePool() {
        pool.close();
    }

    @Validate
    public void countsBalance() {
        int leased = 0;
        for (int i = 0; i < SLOTS; i++) {
            if (held.get(i) != null) {
                leased++;
            }
        }
        long open = 0;
        for (StubConnection c : connector.opened) { // a loop, not a stream: fewer JDK classes for Lincheck to instrument
            if (!c.disposed.get()) {
                open++;
            }
        }
        PoolStats s = pool.stats();
        if (s.active() != leased || pool.engine().totalAllocated() != s.idle() + leased
                || open != s.idle() + s.draining() + leased) {
            throw new AssertionError("books do not balance: " + s + " with " + leased + " held, counted "
                    + pool.engine().totalAllocated() + ", open " + open);
        }
        if (pool.isClosed() && s.idle() + s.draining() != 0) {
            throw new AssertionError("a closed pool keeps an idle connection open: " + s);
        }
    }

    /**
     * The options of the exploration: first the races the engine once lost, each its own scenario,
     * then random scenarios of every operation. The JVM's shared watcher is a static singleton
     * with a thread, a selector and executors: its scheduling calls are left out of the
     * exploration (run without switch points and without snapshotting its object graph); its
     * {@code offload} is not, so the disposal it runs is explored with the rest.
     */
    static ModelCheckingOptions options(int iterations, int invocations) {
        return explorationOf(iterations, invocations)
                // A release races the pool's close (alone: a lease after it would sweep what the race left idle).
                .addCustomScenario(scenario(List.of(op("lease", 0)),
                        List.of(op("close", 0)),
                        List.of(op("closePool"))))
                // A second close races the connection's hand-off to a waiting lease, then its holder's abort.
                .addCustomScenario(scenario(List.of(),
                        List.of(op("lease", 1), op("close", 1), op("closeAgain", 1), op("lease", 1)),
                        List.of(op("lease", 2), op("abortOthers", 2), op("close", 2))))
                // A stale handle's second close (thread 0 closed it before) races the connection's next lease.
                .addCustomScenario(scenario(List.of(op("lease", 0), op("close", 0)),
                        List.of(op("lease", 1)),
                        List.of(op("closeAgain", 0), op("lease", 2))))
                // Aborts, a canceller's and the holder's, race housekeeping's retirement of the expired idle one.
                .addCustomScenario(scenario(List.of(op("lease", 0), op("close", 0)),
                        List.of(op("abortOthers", 1), op("lease", 1), op("abort", 1), op("close", 1)),
                        List.of(op("housekeepingAfterIdleExpiry"), op("lease", 2))));
    }

    /** What any exploration of the engine shares: {@link #options} without its scenarios. */
    static ModelCheckingOptions explorationOf(int iterations, int invocations) {
        return new ModelCheckingOptions()
                .iterations(iterations)
                .invocationsPerIteration(invocations)
                .threads(2)
                .actorsPerThread(4)
                .actorsBefore(0)
                .actorsAfter(1)
                .logLevel(LoggingLevel.ERROR) // not a warning per record whose field offsets it cannot read
                // The first run of new code waits for Lincheck to instrument the classes it meets: slow on a loaded machine.
                .invocationTimeout$lincheck(120_000)
                .loopBound(200) // the port usage's bounded walk of its 60 one-second buckets is no livelock
                .addGuarantee(ManagedStrategyGuaranteeKt.forClasses(IdleWatcher.class.getName(),
                                INTERNAL + "KernelPortCounter", INTERNAL + "SocketWatcher")
                        .methods(name -> !name.equals("offload")).ignore())
                // Fewer switch points where no race of ours can hide, so the budget goes to the engine's own
                // steps: linearizable JDK collections, the port accounting (synchronized) and the test's stubs.
                .addGuarantee(ManagedStrategyGuaranteeKt.forClasses(ConcurrentHashMap.class.getName(),
                                ConcurrentLinkedQueue.class.getName(), CopyOnWriteArrayList.class.getName(),
                                INTERNAL + "PortUsage", INTERNAL + "Listeners", StubConnector.class.getName(),
                                FakeTicker.class.getName())
                        .allMethods().treatAsAtomic());
    }

    /** {@code first} alone, then {@code one} and {@code other} on two threads at once, then the holders close. */
    private static ExecutionScenario scenario(List<Actor> first, List<Actor> one, List<Actor> other) {
        return new ExecutionScenario(first, List.of(one, other),
                List.of(op("close", 0), op("close", 1), op("close", 2)), null);
    }

    private static Actor op(String name, Object... args) {
        Class<?>[] types = new Class<?>[args.length];
        java.util.Arrays.fill(types, int.class);
        try {
            return new Actor(EngineLincheckTest.class.getMethod(name, types), List.of(args));
        } catch (NoSuchMethodException e) {
            throw new IllegalArgumentException(name, e);
        }
    }

    /**
     * Runs the exploration while the JVM's watcher thread is held in a task of ours, so it never
     * runs an explored pool's housekeeping behind Lincheck's back (that would be a thread Lincheck
     * does not control); housekeeping is explored as an operation instead.
     */
    static void checkWithWatcherHeld(ModelCheckingOptions options) throws InterruptedException {
        checkWithWatcherHeld(options, EngineLincheckTest.class);
    }

    /** {@link #checkWithWatcherHeld(ModelCheckingOptions)} for another test class's operations. */
    static void checkWithWatcherHeld(ModelCheckingOptions options, Class<?> testClass) throws InterruptedException {
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        IdleWatcher.Task hold = new IdleWatcher.Task() {
            @Override
            protected long run(long now) {
                holding.countDown();
                try {
                    done.await(10, TimeUnit.MINUTES);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return IdleWatcher.NEVER;
            }
        };
        IdleWatcher.shared().schedule(hold, System.nanoTime());
        if (!holding.await(1, TimeUnit.MINUTES)) {
            throw new AssertionError("the watcher thread did not run our task");
        }
        try {
            options.check(testClass);
        } finally {
            done.countDown();
        }
    }

    @Test
    void sampledInterleavingsKeepOneHolderPerConnectionAndBalancedBooks() throws InterruptedException {
        checkWithWatcherHeld(options(1, 150));
    }
}
