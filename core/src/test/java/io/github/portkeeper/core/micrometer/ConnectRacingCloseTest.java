package io.github.portkeeper.core.micrometer;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolClosedException;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.testing.ChannelConnector;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.TallyListener;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A connection that finishes connecting just as the pool closes served no lease: it is closed
 * at once (with the fallback RST, no TIME_WAIT), and it adds nothing to {@code timewait.avoided},
 * which never exceeds the requests served.
 */
class ConnectRacingCloseTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void aConnectionThatFinishedConnectingAsThePoolClosedServedNoLeaseAndAddsNothingToAvoided() throws Exception {
        TallyListener tally = new TallyListener();
        CountDownLatch connected = new CountDownLatch(1);
        CountDownLatch proceed = new CountDownLatch(1);
        ChannelConnector plain = ChannelConnector.plain();
        Connector<SocketChannel> slow = new Connector<>() {
            @Override
            public SocketChannel connect(Endpoint endpoint) throws IOException {
                SocketChannel c = plain.connect(endpoint);
                connected.countDown();
                try {
                    if (!proceed.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                        throw new IOException("the test never let the connect finish");
                    }
                } catch (InterruptedException e) {
                    c.close();
                    throw new InterruptedIOException();
                }
                return c;
            }

            @Override
            public SocketChannel channel(SocketChannel connection) {
                return connection;
            }
        };
        try (ScriptedServer server = ScriptedServer.start();
             Pool<SocketChannel> pool = Pool.of(slow, PoolConfig.builder().name("racing-close").listener(tally).build())) {
            PoolMetrics metrics = new PoolMetrics(pool);
            metrics.bindTo(new SimpleMeterRegistry());
            Endpoint endpoint = Endpoint.of(server.host(), server.port());

            CompletableFuture<Object> lease = CompletableFuture.supplyAsync(() -> {
                try {
                    return pool.lease(endpoint);
                } catch (IOException e) {
                    return e;
                }
            });
            assertThat(connected.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            pool.close();
            proceed.countDown();

            assertThat(lease.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isInstanceOf(PoolClosedException.class);
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).singleElement().satisfies(c -> {
                assertThat(c.ending()).isEqualTo(Ending.RESET);
                assertThat(c.reason()).isEqualTo(CloseReason.POOL_CLOSED);
            });
            assertThat(metrics.leasesServed()).isZero();
            assertThat(metrics.timeWaitAvoided()).as("avoided with no lease served").isZero();
        } catch (ExecutionException e) {
            throw new AssertionError(e.getCause());
        }
    }
}
