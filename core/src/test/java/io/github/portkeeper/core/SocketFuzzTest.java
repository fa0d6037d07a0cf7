package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.ChannelConnector;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Seeded fuzz over real loopback sockets: many threads lease, exchange a numbered request,
 * and at random close twice, abort, retire or interrupt themselves; one closes the pool
 * mid-run. Afterwards: no connection had two holders, no reply went to the wrong caller,
 * every connection opened was closed, and the kernel shows nothing left toward the server
 * (no CLOSE_WAIT, no ESTABLISHED) and no thread is left.
 *
 * <p>{@code -Dfuzz.virtual=true} runs the workers as virtual threads (JDK 21+).
 */
class SocketFuzzTest {

    private static final int THREADS = Integer.getInteger("fuzz.threads", 64);
    private static final int CYCLES = Integer.getInteger("fuzz.cycles", 150);

    @Test
    void manyThreadsWithDoubleClosesAbortsRetiresInterruptsAndAPoolCloseKeepEveryRule() throws Exception {
        Kernel.assumeLinux();
        Set<Thread> threadsBefore = portkeeperThreads();
        boolean virtual = Boolean.getBoolean("fuzz.virtual");
        Function<Runnable, Thread> threads = virtual ? SocketFuzzTest::virtualThread : r -> new Thread(r);
        TallyListener tally = new TallyListener();
        AtomicInteger doubleHeld = new AtomicInteger();
        AtomicInteger crossed = new AtomicInteger();
        AtomicLong exchanges = new AtomicLong();
        AtomicInteger unexpected = new AtomicInteger();
        List<Throwable> firstUnexpected = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (ScriptedServer server = ScriptedServer.builder().start()) {
            Endpoint endpoint = Endpoint.of(server.host(), server.port());
            Pool<SocketChannel> pool = Pool.of(ChannelConnector.plain(), PoolConfig.builder().maxPerEndpoint(8).maxTotal(8)
                    .leaseTimeout(Duration.ofSeconds(30)).listener(tally).build());
            CountDownLatch start = new CountDownLatch(1);
            AtomicLong cyclesDone = new AtomicLong();
            long closeAt = (long) THREADS * CYCLES / 2;
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int id = t;
                Thread w = threads.apply(() -> {
                    SplittableRandom random = new SplittableRandom(1000L + id);
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int i = 0; i < CYCLES && !pool.isClosed(); i++) {
                        if (cyclesDone.incrementAndGet() == closeAt) {
                            pool.close();
                        }
                        int r = random.nextInt(100);
                        if (r < 3) {
                            Thread.currentThread().interrupt();
                        }
                        Lease<SocketChannel> lease;
                        try {
                            lease = pool.lease(endpoint);
                        } catch (PoolException | java.io.InterruptedIOException expected) {
                            Thread.interrupted();
                            continue; // interrupted while waiting, or the pool closed
                        } catch (IOException | RuntimeException e) {
                            unexpected.incrementAndGet();
                            firstUnexpected.add(e);
                            continue;
                        }
                        SocketChannel c = lease.connection();
                        Object mark = c;
                        synchronized (HOLDERS) {
                            if (!HOLDERS.add(mark)) {
                                doubleHeld.incrementAndGet();
                            }
                        }
                        try {
                            int value = id * 1_000_000 + i;
                            if (ScriptedServer.exchange(c, value) != value + 1) {
                                crossed.incrementAndGet();
                            }
                            exchanges.incrementAndGet();
                        } catch (IOException e) {
                            lease.markBroken(); // interrupted read (the JDK closed the channel) or the like
                        }
                        synchronized (HOLDERS) {
                            HOLDERS.remove(mark);
                        }
                        if (r >= 3 && r < 6) {
                            lease.abort();
                        } else if (r >= 6 && r < 9) {
                            lease.retire();
                        }
                        lease.close();
                        if (r >= 9 && r < 15) {
                            lease.close(); // a double close, after the connection may be someone else's
                            lease.abort();
                        }
                        Thread.interrupted();
                    }
                });
                workers.add(w);
                w.start();
            }
            start.countDown();
            for (Thread w : workers) {
                w.join(Duration.ofMinutes(2).toMillis());
                assertThat(w.isAlive()).as("worker finished").isFalse();
            }
            pool.close();

            System.out.printf("[SocketFuzzTest] %s threads: %d x %d cycles: %d exchanges, opened %d, closed %d (%d peer, %d local, %d reset)%n",
                    virtual ? "virtual" : "platform", THREADS, CYCLES, exchanges.get(), tally.opened(), tally.closedTotal(),
                    tally.closed(Ending.PEER), tally.closed(Ending.LOCAL), tally.closed(Ending.RESET));
            assertThat(firstUnexpected).as("unexpected failures").isEmpty();
            assertThat(doubleHeld).as("connections held by two leases").hasValue(0);
            assertThat(crossed).as("replies that went to the wrong caller").hasValue(0);
            assertThat(exchanges.get()).isPositive();
            assertThat(pool.stats().active() + pool.stats().idle() + pool.stats().draining()).isZero();
            await().atMost(Duration.ofSeconds(10)).until(() -> tally.closedTotal() == tally.opened());
            await().atMost(Duration.ofSeconds(10)).until(() -> Kernel.clientCloseWait(server.address()) == 0
                    && Kernel.clientEstablished(server.address()) == 0);
        }
        // The pool's threads are daemons, so a leftover one would not keep the JVM alive: the
        // promise is that none is left at all. One already alive before (a watcher another test's
        // pool still uses) may stay.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(portkeeperThreads())
                .as("Portkeeper threads started during the run and still alive").isSubsetOf(threadsBefore));
    }

    private static Set<Thread> portkeeperThreads() {
        Set<Thread> threads = new HashSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("portkeeper-") && t.isAlive()) {
                threads.add(t);
            }
        }
        return threads;
    }

    private static final java.util.Set<Object> HOLDERS = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    private static Thread virtualThread(Runnable r) {
        try {
            Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
            return (Thread) Class.forName("java.lang.Thread$Builder").getMethod("unstarted", Runnable.class).invoke(builder, r);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("virtual threads need JDK 21 or later", e);
        }
    }
}
