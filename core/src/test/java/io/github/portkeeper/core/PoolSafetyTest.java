package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.ChannelConnector;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubPoolTestBase;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The engine's safety rules, each pinned by a deterministic reproduction of how it was once
 * broken: a lease is a handle (a stale one can touch nobody else's connection), a closed pool
 * holds no idle connection, a throwing callback frees its slot, nothing that already arrived
 * from the peer is leased, and the total limit never starves a waiter while an idle
 * connection could make room.
 */
class PoolSafetyTest extends StubPoolTestBase {

    private static final Endpoint A = Endpoint.of("a.example", 80);
    private static final Endpoint B = Endpoint.of("b.example", 80);

    @Test
    void secondCloseOfALeaseNeverReleasesTheNextHoldersLease() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(1));
        Lease<StubConnection> first = pool.lease(A);
        first.close();
        Lease<StubConnection> second = pool.lease(A);
        assertThat(second.isReused()).isTrue();

        first.close(); // try-with-resources plus an explicit close: the classic double close

        assertThat(pool.stats(A).active()).as("the second holder still holds its lease").isEqualTo(1);
        assertThatThrownBy(() -> pool.lease(A, Duration.ofMillis(20)))
                .as("nobody else may get the connection the second holder is using")
                .isInstanceOf(LeaseTimeoutException.class);
        assertThat(second.connection()).isNotNull();
        second.close();
        assertThat(pool.stats(A).idle()).isEqualTo(1);
    }

    @Test
    void staleHandleCannotAbortMarkBrokenOrRetireTheNextHoldersConnection() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(1));
        Lease<StubConnection> first = pool.lease(A);
        StubConnection connection = first.connection();
        first.close();
        Lease<StubConnection> second = pool.lease(A);

        first.abort();
        first.markBroken();
        first.retire();
        assertThatThrownBy(first::connection).isInstanceOf(IllegalStateException.class);

        second.close();
        assertThat(connection.disposed).as("the second holder gave back a healthy connection").isFalse();
        assertThat(pool.stats(A).idle()).isEqualTo(1);
    }

    @Test
    void abortThenCloseByTheHolderDiscardsTheConnectionOnce() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(1));
        Lease<StubConnection> lease = pool.lease(A);
        StubConnection connection = lease.connection();
        lease.abort();
        lease.close();
        lease.close();
        assertThat(connection.disposed).isTrue();
        assertThat(pool.stats(A).active()).isZero();
        assertThat(pool.engine().totalAllocated()).isZero();
    }

    @Test
    void poolClosedWhileALeaseIsBeingReleasedKeepsNoIdleConnection() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(1));
        Lease<StubConnection> lease = pool.lease(A);
        StubConnection connection = lease.connection();
        // The release has decided the connection is reusable when the pool closes.
        pool.addListener(new PoolListener() {
            @Override
            public void released(Endpoint endpoint, boolean reusable) {
                pool.close();
            }
        });
        lease.close();

        assertThat(pool.isClosed()).isTrue();
        assertThat(pool.stats().idle()).as("a closed pool holds no idle connection").isZero();
        assertThat(connection.disposed).isTrue();
    }

    @Test
    void throwingValidationDiscardsTheConnectionFreesItsSlotAndSurfacesWrapped() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(1));
        Lease<StubConnection> lease = pool.lease(A);
        StubConnection first = lease.connection();
        lease.close();
        RuntimeException boom = new IllegalStateException("validator bug");
        connector.validator = c -> {
            throw boom;
        };

        assertThatThrownBy(() -> pool.lease(A, Duration.ofMillis(200)))
                .isInstanceOf(PoolException.class)
                .hasMessageContaining("validate")
                .hasCause(boom);

        assertThat(first.disposed).as("the connection whose validation threw is discarded").isTrue();
        assertThat(pool.stats(A).active()).isZero();
        connector.validator = c -> true;
        try (Lease<StubConnection> next = pool.lease(A, Duration.ofMillis(200))) {
            assertThat(next.connection()).isNotSameAs(first);
        }
    }

    @Test
    void waiterBlockedOnlyByTheTotalLimitGetsRoomWhenAnotherEndpointsConnectionTurnsIdle() throws Exception {
        pool(PoolConfig.builder().maxPerEndpoint(1).maxTotal(1));
        Lease<StubConnection> b = pool.lease(B);
        CompletableFuture<Lease<StubConnection>> a = CompletableFuture.supplyAsync(() -> {
            try {
                return pool.lease(A, Duration.ofSeconds(30));
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }, threads);
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats(A).pending() == 1);

        b.close(); // B's connection is now idle: retiring it is the only way A can be served

        try (Lease<StubConnection> served = a.get(5, TimeUnit.SECONDS)) {
            assertThat(served.endpoint()).isEqualTo(A);
        }
        assertThat(events.events).filteredOn(e -> e.startsWith("closed") && e.contains("EVICTED") && e.endsWith(B.toString()))
                .hasSize(1);
    }

    @Test
    void connectionWhosePeerFinAlreadyArrivedIsNotLeasedEvenWithinATick() throws Exception {
        Kernel.assumeLinux();
        try (ScriptedServer server = ScriptedServer.builder().closeAfterResponses(1).start();
             Pool<SocketChannel> sockets = Pool.of(ChannelConnector.plain(), PoolConfig.builder()
                     .ticker(ticker).maxPerEndpoint(1).housekeepingInterval(Duration.ofSeconds(1)).build())) {
            Endpoint endpoint = Endpoint.of(server.host(), server.port());
            try (Lease<SocketChannel> lease = sockets.lease(endpoint)) {
                assertThat(ScriptedServer.exchange(lease.connection(), 41)).isEqualTo(42);
            }
            // The server closed right after its response; its FIN has reached our socket.
            await().atMost(Duration.ofSeconds(5)).until(() -> Kernel.clientCloseWait(server.address()) == 1);

            try (Lease<SocketChannel> lease = sockets.lease(endpoint)) {
                assertThat(lease.isReused()).as("the closed connection is not handed out").isFalse();
                assertThat(ScriptedServer.exchange(lease.connection(), 1)).isEqualTo(2);
            }
        }
    }
}
