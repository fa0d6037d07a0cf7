package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.ChannelConnector;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Who closes first, judged by the kernel: every test reads {@code /proc/net/tcp{,6}} and is
 * skipped where it does not exist. Each test has a fresh server port, so TIME_WAIT sockets left
 * by earlier tests (they last 60 s) cannot be mistaken for this test's.
 */
class CloseOwnershipTest {

    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Duration POLL = Duration.ofMillis(20);
    private static final int N = 20;

    private final TallyListener tally = new TallyListener();
    private final io.micrometer.core.instrument.MeterRegistry registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private ScriptedServer server;

    @BeforeEach
    void kernelIsTheJudge() {
        Kernel.assumeLinux();
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        if (server != null) {
            assertThat(Kernel.clientCloseWait(server.address())).as(Kernel.describe(server.address())).isZero();
            assertThat(Kernel.clientEstablished(server.address())).as(Kernel.describe(server.address())).isZero();
        }
    }

    private ScriptedServer server(ScriptedServer.Builder builder) throws IOException {
        server = builder.start();
        toClose.add(server);
        assertThat(Kernel.clientTimeWait(server.address())).as("a fresh port has no TIME_WAIT toward it yet").isZero();
        return server;
    }

    private Pool<SocketChannel> pool(Connector<SocketChannel> connector, Retirement retirement) {
        Pool<SocketChannel> pool = Pool.of(connector, PoolConfig.builder()
                .maxPerEndpoint(N).maxTotal(N).retirement(retirement).listener(tally).build());
        toClose.add(pool);
        return pool;
    }

    private Endpoint endpoint() {
        return Endpoint.of(server.host(), server.port());
    }

    /** Leases N connections at once, exchanges on each, asks each to retire and gives it back. */
    private void retireConnectionsHeldTogether(Pool<SocketChannel> pool) throws IOException {
        List<Lease<SocketChannel>> held = new ArrayList<>();
        try {
            for (int i = 0; i < N; i++) {
                Lease<SocketChannel> lease = pool.lease(endpoint());
                held.add(lease);
                assertThat(ScriptedServer.exchange(lease.connection(), i)).isEqualTo(i + 1);
            }
        } finally {
            for (Lease<SocketChannel> lease : held) {
                lease.retire();
                lease.close();
            }
        }
        assertThat(server.accepted()).isEqualTo(N);
    }

    @Test
    void serverThatTimesIdleConnectionsOutLeavesNoTimeWaitOnTheClient() throws Exception {
        server(ScriptedServer.builder().closeAfterIdle(Duration.ofMillis(500)));
        SocketPool sockets = SocketPool.builder().readTimeout(Duration.ofSeconds(5))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(8).listener(tally).build()).build();
        toClose.add(sockets);
        new io.github.portkeeper.core.micrometer.PoolMetrics(sockets.pool()).bindTo(registry);
        int exchanges = 10_000;
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        ExecutorService workers = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < 8; w++) {
                done.add(workers.submit(() -> {
                    int i;
                    while ((i = next.getAndIncrement()) < exchanges) {
                        try (Socket s = sockets.socket(server.host(), server.port())) {
                            if (ScriptedServer.exchange(s, i) != i + 1) {
                                failed.incrementAndGet();
                            }
                        } catch (IOException e) {
                            failed.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            workers.shutdownNow();
            assertThat(workers.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(failed).as("failed exchanges").hasValue(0);

        // Now idle: the server times every connection out, closing first; the pool closes passively.
        InetSocketAddress address = server.address();
        await().atMost(WAIT).pollInterval(POLL).untilAsserted(() -> {
            assertThat(sockets.pool().stats().idle()).as("connections still pooled").isZero();
            assertThat(tally.closedTotal()).isEqualTo(tally.opened());
            assertThat(Kernel.clientEstablished(address)).as(Kernel.describe(address)).isZero();
        });
        assertThat(Kernel.clientTimeWait(address)).as("client TIME_WAIT: " + Kernel.describe(address)).isZero();
        assertThat(Kernel.clientCloseWait(address)).as("client CLOSE_WAIT: " + Kernel.describe(address)).isZero();
        await().atMost(WAIT).pollInterval(POLL).untilAsserted(() -> assertThat(Kernel.serverTimeWait(server.port()))
                .as("the server closed first, so it holds the TIME_WAIT (once our FIN is in)")
                .isEqualTo((int) server.endedCount(ScriptedServer.End.SERVER_IDLE_CLOSE)));
        assertThat(tally.closed(Ending.PEER)).isEqualTo(tally.opened());
        assertThat(tally.leases()).isEqualTo(exchanges);
        assertThat(tally.timeWaitCaused()).as("timewait.caused").isZero();
        assertThat(tally.timeWaitAvoided()).as("timewait.avoided").isEqualTo(exchanges);
        assertThat(registry.find("portkeeper.timewait.caused").counters())
                .as("portkeeper.timewait.caused").allSatisfy(c -> assertThat(c.count()).isZero());
        assertThat(registry.get("portkeeper.timewait.avoided").functionCounter().count())
                .as("portkeeper.timewait.avoided").isEqualTo(exchanges);
        assertThat(registry.get("portkeeper.tcp.timewait").gauge().value()).as("portkeeper.tcp.timewait").isZero();
    }

    @Test
    void forcedLocalRetirementLeavesExactlyOneClientTimeWaitPerLocalEnding() throws Exception {
        server(ScriptedServer.builder());
        Pool<SocketChannel> pool = pool(ChannelConnector.plain(), Retirement.local());
        new io.github.portkeeper.core.micrometer.PoolMetrics(pool).bindTo(registry);

        retireConnectionsHeldTogether(pool);

        InetSocketAddress address = server.address();
        assertThat(tally.closed(Ending.LOCAL)).isEqualTo(N);
        await().atMost(WAIT).pollInterval(POLL).untilAsserted(() -> assertThat(Kernel.clientTimeWait(address))
                .as("kernel TIME_WAIT toward the server = LOCAL endings; " + Kernel.describe(address))
                .isEqualTo(tally.closed(Ending.LOCAL)));
        assertThat(Kernel.serverTimeWait(server.port())).as("the server closed passively").isZero();
        assertThat(tally.closedEvents()).allSatisfy(c -> assertThat(c.reason()).isEqualTo(CloseReason.RETIRED));
        double caused = registry.get("portkeeper.timewait.caused").counter().count();
        assertThat(caused).as("portkeeper.timewait.caused equals the kernel's new TIME_WAIT count")
                .isEqualTo(Kernel.clientTimeWait(address));
        assertThat(registry.get("portkeeper.tcp.timewait").gauge().value()).as("portkeeper.tcp.timewait").isEqualTo(N);
    }

    @Test
    void resetRetirementLeavesNoTimeWaitOnEitherSide() throws Exception {
        server(ScriptedServer.builder());
        Pool<SocketChannel> pool = pool(ChannelConnector.plain(), Retirement.reset());

        retireConnectionsHeldTogether(pool);

        assertThat(tally.closed(Ending.RESET)).isEqualTo(N);
        assertThat(tally.closedTotal()).isEqualTo(N);
        await().atMost(WAIT).pollInterval(POLL).until(() -> server.ended().size() == N);
        assertThat(server.endedCount(ScriptedServer.End.CLIENT_RESET_OR_ERROR)).as("the server saw resets").isEqualTo(N);
        InetSocketAddress address = server.address();
        assertThat(Kernel.clientTimeWait(address)).as("client side: " + Kernel.describe(address)).isZero();
        assertThat(Kernel.serverTimeWait(server.port())).as("server side: " + Kernel.describe(address)).isZero();
    }

    @Test
    void requestingPeerCloseMakesTheServerCloseFirst() throws Exception {
        server(ScriptedServer.builder().closeOnGoodbye("QUIT", "+OK\r\n"));
        ChannelConnector connector = ChannelConnector.withGoodbye("QUIT");
        Pool<SocketChannel> pool = pool(connector, Retirement.requestPeerClose(WAIT));

        retireConnectionsHeldTogether(pool);

        assertThat(connector.goodbyesSent()).isEqualTo(N);
        await().atMost(WAIT).pollInterval(POLL).until(() -> tally.closedTotal() == N);
        assertThat(tally.closed(Ending.PEER)).as(tally.toString()).isEqualTo(N);
        assertThat(tally.closedEvents()).allSatisfy(c -> assertThat(c.reason()).isEqualTo(CloseReason.RETIRED));
        assertThat(server.endedCount(ScriptedServer.End.SERVER_GOODBYE_CLOSE)).isEqualTo(N);
        assertThat(pool.stats().draining()).isZero();
        assertThat(connector.disposed()).isEqualTo(N);
        InetSocketAddress address = server.address();
        assertThat(Kernel.clientTimeWait(address)).as("client side: " + Kernel.describe(address)).isZero();
        assertThat(Kernel.clientCloseWait(address)).as("client side: " + Kernel.describe(address)).isZero();
        // The server's last sockets may still be in FIN_WAIT2 for a moment, until our FIN arrives.
        await().atMost(WAIT).pollInterval(POLL).untilAsserted(() -> assertThat(Kernel.serverTimeWait(server.port()))
                .as("the server closed first: " + Kernel.describe(address)).isEqualTo(N));
    }

    @Test
    void aDrainTimeoutTooLongForTheNanosecondClockAwaitsThePeerWithoutFallingBack() throws Exception {
        server(ScriptedServer.builder().closeAfterIdle(Duration.ofMillis(300)));
        Pool<SocketChannel> pool = pool(ChannelConnector.plain(), Retirement.awaitPeer(Duration.ofSeconds(Long.MAX_VALUE)));
        try (Lease<SocketChannel> lease = pool.lease(endpoint())) {
            assertThat(ScriptedServer.exchange(lease.connection(), 1)).isEqualTo(2);
            lease.retire();
        }
        assertThat(pool.stats().draining()).isEqualTo(1);
        await().atMost(WAIT).pollInterval(POLL).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closed(Ending.PEER)).as(tally.toString()).isEqualTo(1);
        assertThat(Kernel.clientTimeWait(server.address())).isZero();
    }
}
