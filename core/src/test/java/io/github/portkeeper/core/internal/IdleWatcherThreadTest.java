package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The shared watcher's thread outlives a round that found nothing due: a busy pool's
 * connections are leased most of the time, so its rounds often find nothing to do, and the next
 * release asks for a round a moment later. Ending the thread each time started one per round.
 */
class IdleWatcherThreadTest {

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aBusyPoolsRoundsReuseOneWatcherThread() throws Exception {
        Connector<Object> stub = endpoint -> new Object();
        Endpoint endpoint = Endpoint.of("busy.example", 80);
        try (Pool<Object> pool = Pool.of(stub, PoolConfig.builder().name("busy-rounds")
                .housekeepingInterval(Duration.ofMillis(20)).portBudget(PortBudget.disabled()).build())) {
            Lease<Object> lease = pool.lease(endpoint);
            IdleWatcher watcher = IdleWatcher.shared();
            long before = watcher.threadStarts();
            int cycles = 5;
            for (int i = 0; i < cycles; i++) {
                lease.close(); // idle: a round is asked for 20 ms later
                lease = pool.lease(endpoint); // leased again before it: the round finds nothing due
                // Let the round run (and, before, the thread end) while the connection is leased.
                await().pollDelay(Duration.ofMillis(100)).atMost(Duration.ofSeconds(5)).until(() -> true);
            }
            lease.close();
            long started = watcher.threadStarts() - before;
            System.out.printf("[IdleWatcherThreadTest] %d busy cycles: %d watcher threads started%n", cycles, started);
            assertThat(started).as("watcher threads started over %d rounds that found nothing due", cycles)
                    .isLessThanOrEqualTo(1);
        }
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aBusyPoolDoesNotWakeTheSleepingWatcherOnceAnInterval() throws Exception {
        // One thread leasing and releasing without pause: connections idle for microseconds,
        // never long enough to be watched. The watcher runs a walk each interval while
        // releases go on; it must not go to sleep after each walk only for the next release to
        // wake it again (a selector wakeup and two watcher wakeups per interval).
        Connector<Object> stub = endpoint -> new Object();
        Endpoint endpoint = Endpoint.of("busy.example", 80);
        Duration interval = Duration.ofMillis(10);
        try (Pool<Object> pool = Pool.of(stub, PoolConfig.builder().name("busy-wakeups")
                .housekeepingInterval(interval).portBudget(PortBudget.disabled()).build())) {
            IdleWatcher watcher = IdleWatcher.shared();
            pool.lease(endpoint).close(); // the pool's first walk is asked for
            long before = watcher.scheduleWakeups();
            long start = System.nanoTime();
            long span = interval.toNanos() * 40;
            long cycles = 0;
            // On a loaded machine this thread can be descheduled for longer than an interval;
            // the pool is then really quiet and the watcher may rightly sleep and be woken by
            // the next release. Such pauses are counted and allowed for, one wakeup each.
            long pauses = 0;
            long last = start;
            while (last - start < span && cycles < 50_000_000L) {
                pool.lease(endpoint).close();
                cycles++;
                long now = System.nanoTime();
                if (now - last > interval.toNanos() / 2) {
                    pauses++;
                }
                last = now;
            }
            long wakeups = watcher.scheduleWakeups() - before;
            System.out.printf("[IdleWatcherThreadTest] %d lease-release cycles over 40 intervals, %d pauses: %d schedule wakeups%n",
                    cycles, pauses, wakeups);
            assertThat(wakeups).as("wakeups of the sleeping watcher by releases over 40 busy intervals (%d pauses of this thread)", pauses)
                    .isLessThanOrEqualTo(4 + pauses);
        }
    }
    /**
     * The housekeeper closes a watched connection the peer closed on the watcher's own thread,
     * cancelling its key there. The cancelled key stays in the selector's key set until the next
     * select, so the watcher took itself for busy and blocked in a select without timeout, with
     * no key and no deadline left: its thread never ended.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void theWatchersThreadEndsOnceTheLastWatchedSocketIsClosedOnItsOwnThread() throws Exception {
        String name = "portkeeper-watcher-last-socket-test";
        IdleWatcher watcher = new IdleWatcher(name);
        try (ServerSocketChannel listener = ServerSocketChannel.open()
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             SocketChannel client = SocketChannel.open(listener.getLocalAddress())) {
            CountDownLatch closed = new CountDownLatch(1);
            SelectionKey[] watched = new SelectionKey[1];
            // As the housekeeper does it: the readiness callback asks for a run, and the run
            // closes the connection, cancelling its key on the watcher's thread.
            IdleWatcher.Task closeIt = new IdleWatcher.Task() {
                @Override
                protected long run(long now) {
                    watched[0].cancel();
                    try {
                        client.close();
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    closed.countDown();
                    return IdleWatcher.NEVER;
                }
            };
            client.configureBlocking(false);
            watched[0] = watcher.watch(client, (key, now) -> {
                key.interestOps(0);
                watcher.schedule(closeIt, now);
            });
            try (SocketChannel peer = listener.accept()) {
                peer.close(); // the peer's FIN: the watched socket becomes readable
            }
            assertThat(closed.await(10, TimeUnit.SECONDS)).as("the watcher closed the socket").isTrue();
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50)).untilAsserted(() ->
                    assertThat(Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name)))
                            .as("the watcher's thread, a second after it had nothing left to watch").isEmpty());
        }
    }
}
