package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.testing.ChannelConnector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A closed pool's housekeeping leaves the JVM's shared watcher for good. The watcher's task set is
 * static: a pool's housekeeper left in it keeps the whole pool (engine, endpoint pools,
 * listeners, a metrics binding and its registry) reachable, and is looked at every round, until
 * the JVM ends.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ClosedPoolLeavesTheWatcherTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    /**
     * The pool's close takes a watched connection back and finds bytes nobody asked for on it: it
     * starts draining it, which asks the watcher for a walk after the pool's housekeeping was
     * cancelled. The watcher's thread is held meanwhile, so it cannot get to the bytes first.
     */
    @Test
    void aPoolClosedWhileAWatchedConnectionHasUnreadBytesLeavesNoTaskWithTheWatcher() throws Exception {
        IdleWatcher shared = IdleWatcher.shared();
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Endpoint endpoint = Endpoint.of(server.getInetAddress().getHostAddress(), server.getLocalPort());
            PoolEngine<SocketChannel> engine = new PoolEngine<>(ChannelConnector.plain(), PoolConfig.builder()
                    .name("closed-pool-leaves-the-watcher").housekeepingInterval(Duration.ofMillis(20))
                    .portBudget(PortBudget.disabled()).build());
            Socket accepted;
            try {
                engine.lease(endpoint, WAIT).close();
                accepted = server.accept();
                await().atMost(WAIT).until(() -> watched(engine) != null);

                CountDownLatch holding = new CountDownLatch(1);
                CountDownLatch letGo = new CountDownLatch(1);
                shared.schedule(new IdleWatcher.Task() {
                    @Override
                    protected long run(long now) {
                        holding.countDown();
                        try {
                            letGo.await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        return IdleWatcher.NEVER;
                    }
                }, System.nanoTime());
                try {
                    assertThat(holding.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("the watcher runs our task").isTrue();
                    OutputStream out = accepted.getOutputStream();
                    out.write('x'); // bytes nobody asked for, no FIN: the close must drain it
                    out.flush();
                    awaitReadable(watched(engine).channel());

                    engine.close();

                    assertThat(shared.holds(engine.housekeeper))
                            .as("the closed pool's housekeeper is still one of the shared watcher's tasks").isFalse();
                } finally {
                    letGo.countDown();
                }
            } finally {
                engine.close();
            }
            accepted.close();
        }
    }

    private static PooledEntry<SocketChannel> watched(PoolEngine<SocketChannel> engine) {
        for (EndpointPool<SocketChannel> ep : engine.endpointPools()) {
            for (PooledEntry<SocketChannel> e : ep.entries()) {
                if (e.state() == PooledEntry.WATCHED && e.watchKey != null) {
                    return e;
                }
            }
        }
        return null;
    }

    /** Waits until the byte has arrived, with a selector of the test's own (the channel is non-blocking while watched). */
    private static void awaitReadable(SocketChannel channel) throws Exception {
        try (Selector selector = Selector.open()) {
            SelectionKey key = channel.register(selector, SelectionKey.OP_READ);
            assertThat(selector.select(WAIT.toMillis())).as("the server's byte arrived").isPositive();
            key.cancel();
            selector.selectNow(); // deregistered before the pool takes the channel back
        }
    }
}
