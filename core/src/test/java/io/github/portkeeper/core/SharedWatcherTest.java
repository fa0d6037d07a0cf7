package io.github.portkeeper.core;

import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.core.testing.ScriptedServer.End;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * One idle watcher serves every pool of the JVM, and one pool's user code never stalls it: with
 * a listener of one pool blocked, another pool's idle connection whose server closes is still
 * closed passively at once (the kernel shows no CLOSE_WAIT), and its events arrive once the
 * listener lets go.
 */
class SharedWatcherTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aBlockedListenerOfOnePoolNeverStallsTheWatchingOfAnother() throws Exception {
        Kernel.assumeLinux();
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch blocked = new CountDownLatch(1);
        PoolListener blocking = new PoolListener() {
            @Override
            public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
                blocked.countDown();
                try {
                    release.await(); // user code that hangs
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        TallyListener tallyB = new TallyListener();
        List<String> closedOn = new java.util.concurrent.CopyOnWriteArrayList<>();
        PoolListener where = new PoolListener() {
            @Override
            public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
                closedOn.add(Thread.currentThread().getName() + " " + ending + " " + reason);
            }
        };
        try (ScriptedServer serverA = ScriptedServer.builder().closeAfterIdle(Duration.ofMillis(100)).start();
             ScriptedServer serverB = ScriptedServer.builder().closeAfterIdle(Duration.ofMillis(300)).start();
             SocketPool a = SocketPool.builder().poolConfig(PoolConfig.builder().name("blocked-listener").listener(blocking).build()).build();
             SocketPool b = SocketPool.builder().poolConfig(PoolConfig.builder().name("watched-meanwhile").listener(tallyB).listener(where).build()).build()) {
            List<Thread> poolThreads = new ArrayList<>();
            try (Socket s = a.socket(serverA.host(), serverA.port())) {
                assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            }
            assertThat(blocked.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("pool A's listener was called").isTrue();
            try (Socket s = b.socket(serverB.host(), serverB.port())) {
                assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            }

            // Pool B's server closes its idle connection while A's listener hangs.
            await().atMost(WAIT).until(() -> serverB.endedCount(End.SERVER_IDLE_CLOSE) == 1);
            await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(5)).until(() ->
                    Kernel.clientCloseWait(serverB.address()) == 0 && Kernel.clientEstablished(serverB.address()) == 0);
            assertThat(b.pool().stats().idle()).as("pool B's closed connection is gone from the pool").isZero();
            assertThat(tallyB.closedTotal()).as("B's event waits behind A's listener: %s", closedOn).isZero();

            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.getName().startsWith("portkeeper-")) {
                    poolThreads.add(t);
                }
            }
            // Shared by both pools: the watcher, its worker, and (for a second after a port-budget
            // count) the kernel reader and its host-name lookups; no thread per pool.
            assertThat(poolThreads).as("threads of the pools").extracting(Thread::getName)
                    .contains("portkeeper-watcher", "portkeeper-watcher-worker")
                    .isSubsetOf("portkeeper-watcher", "portkeeper-watcher-worker", "portkeeper-watcher-kernel",
                            "portkeeper-watcher-lookup");

            release.countDown();
            await().atMost(WAIT).until(() -> tallyB.closedTotal() == 1);
            assertThat(tallyB.closedEvents().get(0).ending()).isEqualTo(Ending.PEER);
        } finally {
            release.countDown();
        }
    }
}
