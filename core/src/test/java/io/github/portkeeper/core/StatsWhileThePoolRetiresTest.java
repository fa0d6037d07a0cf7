package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubPoolTestBase;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What {@link Pool#stats()} (behind the {@code portkeeper.connections} gauges) says about an idle
 * connection while the pool itself retires it: housekeeping's expiry sweep, {@code retireIdle},
 * the evictor making room for another endpoint, and the pool's close. The pool takes the
 * connection from the idle set to do so; it is never leased, so it must never show as
 * {@code active}. The look is taken from inside the close path, by the connector's
 * {@code dispose}, which runs while the pool still holds the connection.
 */
class StatsWhileThePoolRetiresTest extends StubPoolTestBase {

    private static final Endpoint A = Endpoint.of("a.example", 80);
    private static final Endpoint A_ALICE = Endpoint.of("a.example", 80, "alice");
    private static final Duration MAX_IDLE = Duration.ofSeconds(30);

    /** The figures of {@link #A} seen at each dispose. */
    private final List<PoolStats.EndpointStats> seenAtDispose = new CopyOnWriteArrayList<>();

    private void anIdleConnectionOfA(PoolConfig.Builder config) throws IOException {
        pool(config.maxIdleTime(MAX_IDLE).housekeepingInterval(Duration.ofHours(1)).retirement(Retirement.reset()));
        connector.onDispose = c -> seenAtDispose.add(pool.stats().endpoint(A));
        pool.lease(A).close();
        assertThat(pool.stats(A).idle()).isEqualTo(1);
    }

    private void assertNeverActiveAndCountedOnce() {
        assertThat(seenAtDispose).as("figures of A while the pool closed its connection").hasSize(1);
        PoolStats.EndpointStats s = seenAtDispose.get(0);
        assertThat(s.active()).as("active while nobody leased it: %s", s).isZero();
        assertThat(s.active() + s.idle() + s.draining()).as("counted once until closed: %s", s).isEqualTo(1);
    }

    @Test
    void anIdleConnectionHousekeepingExpiresNeverShowsAsActive() throws IOException {
        anIdleConnectionOfA(PoolConfig.builder());
        ticker.advance(MAX_IDLE.plusSeconds(1));
        pool.engine().maintain();
        assertNeverActiveAndCountedOnce();
        assertThat(pool.stats(A)).isEqualTo(new PoolStats.EndpointStats(0, 0, 0, 0));
    }

    @Test
    void anIdleConnectionRetiredOnDemandNeverShowsAsActive() throws IOException {
        anIdleConnectionOfA(PoolConfig.builder());
        assertThat(pool.retireIdle((connection, idle) -> true)).isEqualTo(1);
        assertNeverActiveAndCountedOnce();
    }

    @Test
    void anIdleConnectionEvictedForAnotherEndpointNeverShowsAsActive() throws IOException {
        anIdleConnectionOfA(PoolConfig.builder().maxPerEndpoint(1).maxTotal(1));
        // Blocked by the total limit alone: the lease evicts A's idle connection to make room.
        try (Lease<StubConnection> other = pool.lease(A_ALICE, Duration.ofSeconds(5))) {
            assertThat(other.connection().endpoint).isEqualTo(A_ALICE);
        }
        assertNeverActiveAndCountedOnce();
    }

    @Test
    void anIdleConnectionEvictedToMakeRoomForANewOneAtTheEndpointsLimitNeverShowsAsActive() throws IOException {
        anIdleConnectionOfA(PoolConfig.builder().maxPerEndpoint(1));
        // At A's limit: leaseNew retires A's idle connection to open a new one.
        try (Lease<StubConnection> fresh = pool.leaseNew(A, Duration.ofSeconds(5))) {
            assertThat(fresh.isReused()).isFalse();
        }
        assertNeverActiveAndCountedOnce();
    }

    @Test
    void idleConnectionsClosedWithThePoolNeverShowAsActive() throws IOException {
        anIdleConnectionOfA(PoolConfig.builder());
        pool.close();
        assertNeverActiveAndCountedOnce();
    }

    @Test
    void aWatchedConnectionHousekeepingExpiresNeverShowsAsActive() throws IOException {
        List<PoolStats.EndpointStats> seen = new CopyOnWriteArrayList<>();
        try (ScriptedServer server = ScriptedServer.start()) {
            Endpoint endpoint = Endpoint.of(server.host(), server.port());
            Supplier<PoolStats.EndpointStats> figures = () -> socketPool.stats(endpoint);
            try (Pool<SocketChannel> p = Pool.of(new Sockets(() -> seen.add(figures.get())), PoolConfig.builder()
                    .ticker(ticker).lifetimeJitter(Duration.ZERO).maxIdleTime(MAX_IDLE)
                    .housekeepingInterval(Duration.ofSeconds(1)).retirement(Retirement.reset())
                    .portBudget(PortBudget.disabled()).build())) {
                socketPool = p;
                p.lease(endpoint).close();
                ticker.advance(Duration.ofSeconds(2));
                p.engine().maintain(); // idle for one housekeeping interval: registered with the watcher
                ticker.advance(MAX_IDLE);
                p.engine().maintain(); // expired: taken back from the watcher and retired
                assertThat(seen).as("figures while the pool closed its connection").hasSize(1);
                PoolStats.EndpointStats s = seen.get(0);
                assertThat(s.active()).as("active while nobody leased it: %s", s).isZero();
                assertThat(s.active() + s.idle() + s.draining()).as("counted once until closed: %s", s).isEqualTo(1);
            }
        }
    }

    @Test
    void aWatchedConnectionEvictedToMakeRoomForANewOneAtTheEndpointsLimitNeverShowsAsActive() throws IOException {
        List<PoolStats.EndpointStats> seen = new CopyOnWriteArrayList<>();
        try (ScriptedServer server = ScriptedServer.start()) {
            Endpoint endpoint = Endpoint.of(server.host(), server.port());
            Supplier<PoolStats.EndpointStats> figures = () -> socketPool.stats(endpoint);
            try (Pool<SocketChannel> p = Pool.of(new Sockets(() -> seen.add(figures.get())), PoolConfig.builder()
                    .ticker(ticker).maxPerEndpoint(1).maxIdleTime(MAX_IDLE)
                    .housekeepingInterval(Duration.ofSeconds(1)).retirement(Retirement.reset())
                    .portBudget(PortBudget.disabled()).build())) {
                socketPool = p;
                p.lease(endpoint).close();
                ticker.advance(Duration.ofSeconds(2));
                p.engine().maintain(); // idle for one housekeeping interval: registered with the watcher
                // At the endpoint's limit: leaseNew takes the watched connection back and retires it.
                try (Lease<SocketChannel> fresh = p.leaseNew(endpoint, Duration.ofSeconds(5))) {
                    assertThat(fresh.isReused()).isFalse();
                }
                assertThat(seen).as("figures while the pool closed its connection").hasSize(1);
                PoolStats.EndpointStats s = seen.get(0);
                assertThat(s.active()).as("active while nobody leased it: %s", s).isZero();
                assertThat(s.active() + s.idle() + s.draining()).as("counted once until closed: %s", s).isEqualTo(1);
            }
        }
    }

    private Pool<SocketChannel> socketPool;

    /** Blocking socket channels; {@code dispose} runs the test's look. */
    private static final class Sockets implements Connector<SocketChannel> {

        private final Runnable onDispose;

        Sockets(Runnable onDispose) {
            this.onDispose = onDispose;
        }

        @Override
        public SocketChannel connect(Endpoint endpoint) throws IOException {
            return SocketChannel.open(new InetSocketAddress(endpoint.host(), endpoint.port()));
        }

        @Override
        public SocketChannel channel(SocketChannel connection) {
            return connection;
        }

        @Override
        public void dispose(SocketChannel connection) {
            onDispose.run();
        }
    }
}
