package io.github.portkeeper.core.budget;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudgetExhaustedException;
import io.github.portkeeper.core.Retirement;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The storm of the namespace workloads: {@code threads} threads open a connection through a
 * {@link #pool storm pool}, exchange 4 bytes with an echo server and retire it (a local FIN: one
 * TIME_WAIT each) as fast as they can, each until the budget refuses it with
 * {@link PortBudgetExhaustedException}, another failure, or its {@code perThread} connections. What
 * it saw is kept for the workload to print.
 */
final class Storm {

    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger slowLeases = new AtomicInteger();
    private final AtomicLong firstClose = new AtomicLong(Long.MAX_VALUE);
    private final AtomicLong lastClose = new AtomicLong();
    private final Queue<Long> exhaustedAfterMillis = new ConcurrentLinkedQueue<>();
    private final AtomicReference<PortBudgetExhaustedException> firstExhausted = new AtomicReference<>();
    private long millis;

    private Storm() {
    }

    /**
     * A pool with the default port budget (detected in the namespace it runs in) and
     * {@link Retirement#local()}: every retired connection leaves a TIME_WAIT on this host.
     */
    static Pool<SocketChannel> pool(String name) {
        return Pool.of(new Channels(), PoolConfig.builder()
                .name(name)
                .maxPerEndpoint(32).maxTotal(64)
                .leaseTimeout(Duration.ofSeconds(1))
                .retirement(Retirement.local())
                .build());
    }

    /** Runs the storm; failures other than the budget's go to {@code failures}. */
    static Storm run(Pool<SocketChannel> pool, Endpoint endpoint, int threads, int perThread, Failures failures)
            throws Exception {
        Storm storm = new Storm();
        long start = System.nanoTime();
        allAtOnce(threads, () -> {
            for (int i = 0; i < perThread; i++) {
                long t0 = System.nanoTime();
                try (Lease<SocketChannel> l = pool.lease(endpoint)) {
                    if (millisSince(t0) >= 100) {
                        storm.slowLeases.incrementAndGet();
                    }
                    exchange(l.connection(), i);
                    l.retire(); // Retirement.local(): a FIN from this host, a TIME_WAIT here
                } catch (PortBudgetExhaustedException e) {
                    storm.exhaustedAfterMillis.add(millisSince(t0));
                    storm.firstExhausted.compareAndSet(null, e);
                    return null;
                } catch (IOException | RuntimeException e) {
                    failures.add(e);
                    return null;
                }
                long now = System.nanoTime();
                storm.firstClose.accumulateAndGet(now, Math::min);
                storm.lastClose.accumulateAndGet(now, Math::max);
                storm.connections.incrementAndGet();
            }
            return null;
        });
        storm.millis = millisSince(start);
        return storm;
    }

    /** Connections opened, used and retired. */
    int connections() {
        return connections.get();
    }

    /** Leases that took 100 ms or more to be served. */
    int slowLeases() {
        return slowLeases.get();
    }

    /** {@link System#nanoTime()} of the first close; {@link Long#MAX_VALUE} if none. */
    long firstCloseNanos() {
        return firstClose.get();
    }

    long closesSpreadMillis() {
        return (lastClose.get() - firstClose.get()) / 1_000_000;
    }

    long millis() {
        return millis;
    }

    /** How long each lease the budget refused had waited, in ms. */
    List<Long> exhaustedAfterMillis() {
        return new ArrayList<>(exhaustedAfterMillis);
    }

    /** The first refusal; null if there was none. */
    PortBudgetExhaustedException firstExhausted() {
        return firstExhausted.get();
    }

    /**
     * Runs {@code task} on {@code threads} threads of their own, released together, and waits for
     * every one (60 s at most each).
     */
    static void allAtOnce(int threads, Callable<?> task) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService workers = Executors.newFixedThreadPool(threads);
        List<Future<?>> futures = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            futures.add(workers.submit(() -> {
                go.await();
                return task.call();
            }));
        }
        go.countDown();
        for (Future<?> f : futures) {
            f.get(60, TimeUnit.SECONDS);
        }
        workers.shutdown();
    }

    /** Writes 4 bytes and reads their echo. */
    static void exchange(SocketChannel channel, int n) throws IOException {
        ByteBuffer request = ByteBuffer.allocate(4).putInt(n).flip();
        while (request.hasRemaining()) {
            channel.write(request);
        }
        byte[] response = channel.socket().getInputStream().readNBytes(4);
        if (!Arrays.equals(ByteBuffer.allocate(4).putInt(n).array(), response)) {
            throw new IOException("bad echo for " + n + ": " + Arrays.toString(response));
        }
    }

    static long millisSince(long nanos) {
        return (System.nanoTime() - nanos) / 1_000_000;
    }
}
