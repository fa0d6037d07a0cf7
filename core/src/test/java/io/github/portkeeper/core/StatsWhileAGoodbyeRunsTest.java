package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What {@link Pool#stats()} (behind the {@code portkeeper.connections} gauges) says about a
 * connection while its {@link Retirement#requestPeerClose} goodbye is in progress: the goodbye
 * is the connector's code and may wait for the server's answer (Redis answers {@code QUIT} with
 * {@code +OK}), here until the test lets it go on. The connection is retiring: it no longer
 * counts against the limits, no lease holds it and it cannot be leased again, so it shows as
 * {@code draining}, never as {@code idle} or {@code active}, whoever retires it.
 */
class StatsWhileAGoodbyeRunsTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final PoolStats.EndpointStats DRAINING_ONE = new PoolStats.EndpointStats(0, 0, 1, 0);
    private static final PoolStats.EndpointStats NOTHING = new PoolStats.EndpointStats(0, 0, 0, 0);

    private final FakeTicker ticker = new FakeTicker();
    private final TallyListener tally = new TallyListener();
    private final SlowGoodbyes connector = new SlowGoodbyes();
    private final ExecutorService retiring = Executors.newSingleThreadExecutor();
    private ScriptedServer server;
    private Endpoint endpoint;
    private Pool<SocketChannel> pool;

    @BeforeEach
    void serverThatClosesOnQuit() throws IOException {
        server = ScriptedServer.builder().closeOnGoodbye("QUIT", "+OK\r\n").start();
        endpoint = Endpoint.of(server.host(), server.port());
    }

    @AfterEach
    void closeAll() throws Exception {
        connector.answer.countDown(); // never leave a goodbye waiting, even when a test failed
        retiring.shutdown();
        assertThat(retiring.awaitTermination(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        if (pool != null) {
            pool.close();
        }
        server.close();
    }

    /** A pool on the test's ticker whose housekeeping stays away unless asked ({@code maintain()}). */
    private PoolConfig.Builder onTheTestsClock() {
        return PoolConfig.builder().ticker(ticker).lifetimeJitter(Duration.ZERO)
                .housekeepingInterval(Duration.ofHours(1)).maxIdleTime(Duration.ofMinutes(30));
    }

    private void pool(PoolConfig.Builder config) {
        pool = Pool.of(connector, config.retirement(Retirement.requestPeerClose(WAIT)).listener(tally)
                .portBudget(PortBudget.disabled()).build());
    }

    private void anIdleConnection() throws IOException {
        pool.lease(endpoint).close();
        assertThat(pool.stats(endpoint)).isEqualTo(new PoolStats.EndpointStats(0, 1, 0, 0));
    }

    /**
     * Waits for the goodbye to begin ({@code retire}, run on a thread of the test's, or the pool's
     * own housekeeping, starts it), reads the figures while it waits for its answer, then lets it
     * go on and sees the connection end as the goodbye asked: the server closes first.
     */
    private PoolStats.EndpointStats figuresWhileTheGoodbyeRuns(Callable retire) throws Exception {
        Future<?> retired = retiring.submit(() -> {
            retire.call();
            return null;
        });
        assertThat(connector.begun.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the goodbye began").isTrue();
        PoolStats.EndpointStats during = pool.stats(endpoint);
        assertThat(pool.stats().draining()).as("the pool's total while the goodbye runs").isEqualTo(during.draining());
        connector.answer.countDown();
        retired.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closed(Ending.PEER)).as(tally.toString()).isEqualTo(1);
        assertThat(server.endedCount(ScriptedServer.End.SERVER_GOODBYE_CLOSE)).isEqualTo(1);
        assertThat(pool.stats(endpoint)).isEqualTo(NOTHING);
        return during;
    }

    @Test
    void aConnectionTheIdleSweepRetiresShowsAsDrainingWhileItsGoodbyeRuns() throws Exception {
        // The real clock and the shared watcher: the sweep runs on the watcher's thread, which
        // hands the goodbye to its worker.
        pool(PoolConfig.builder().maxIdleTime(Duration.ofMillis(300)));
        anIdleConnection();
        assertThat(figuresWhileTheGoodbyeRuns(() -> { })).isEqualTo(DRAINING_ONE);
        assertThat(tally.closed(CloseReason.IDLE_TIMEOUT)).isEqualTo(1);
    }

    @Test
    void aConnectionHousekeepingRetiresForItsLifetimeShowsAsDrainingWhileItsGoodbyeRuns() throws Exception {
        pool(onTheTestsClock().maxLifetime(Duration.ofMinutes(1)));
        anIdleConnection();
        ticker.advance(Duration.ofMinutes(2));
        assertThat(figuresWhileTheGoodbyeRuns(() -> pool.engine().maintain())).isEqualTo(DRAINING_ONE);
        assertThat(tally.closed(CloseReason.LIFETIME)).isEqualTo(1);
    }

    @Test
    void aConnectionHousekeepingRetiresForTheServersIdleTimeoutShowsAsDrainingWhileItsGoodbyeRuns() throws Exception {
        pool(onTheTestsClock());
        pool.hintIdleTimeout(endpoint, Duration.ofSeconds(10));
        anIdleConnection();
        ticker.advance(Duration.ofSeconds(10));
        assertThat(figuresWhileTheGoodbyeRuns(() -> pool.engine().maintain())).isEqualTo(DRAINING_ONE);
        assertThat(tally.closed(CloseReason.IDLE_TIMEOUT)).isEqualTo(1);
    }

    @Test
    void aConnectionRetiredOnDemandShowsAsDrainingWhileItsGoodbyeRuns() throws Exception {
        pool(onTheTestsClock());
        anIdleConnection();
        assertThat(figuresWhileTheGoodbyeRuns(() -> assertThat(pool.retireIdle((c, idle) -> true)).isEqualTo(1)))
                .isEqualTo(DRAINING_ONE);
        assertThat(tally.closed(CloseReason.EVICTED)).isEqualTo(1);
    }

    @Test
    void aConnectionWhoseLeaseClosedShowsAsDrainingNotActiveWhileItsGoodbyeRuns() throws Exception {
        pool(onTheTestsClock());
        assertThat(figuresWhileTheGoodbyeRuns(() -> {
            try (Lease<SocketChannel> lease = pool.lease(endpoint)) {
                lease.retire();
            }
        })).as("nobody holds a lease while the goodbye runs").isEqualTo(DRAINING_ONE);
        assertThat(tally.closed(CloseReason.RETIRED)).isEqualTo(1);
    }

    /** Work that may throw, for the retiring thread. */
    private interface Callable {
        void call() throws Exception;
    }

    /**
     * Blocking socket channels whose goodbye ({@code QUIT}) waits, once begun, until the test
     * lets it go on: a server slow to answer it.
     */
    private static final class SlowGoodbyes implements Connector<SocketChannel> {

        final CountDownLatch begun = new CountDownLatch(1);
        final CountDownLatch answer = new CountDownLatch(1);

        @Override
        public SocketChannel connect(Endpoint endpoint) throws IOException {
            return SocketChannel.open(new InetSocketAddress(endpoint.host(), endpoint.port()));
        }

        @Override
        public SocketChannel channel(SocketChannel connection) {
            return connection;
        }

        @Override
        public boolean requestPeerClose(SocketChannel connection) throws IOException {
            begun.countDown();
            try {
                if (!answer.await(WAIT.toSeconds(), TimeUnit.SECONDS)) {
                    throw new IOException("the test never let the goodbye go on");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while saying goodbye", e);
            }
            ByteBuffer quit = ByteBuffer.wrap("QUIT".getBytes(StandardCharsets.US_ASCII));
            while (quit.hasRemaining()) {
                connection.write(quit);
            }
            return true;
        }
    }
}
