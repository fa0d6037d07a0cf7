package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.ChannelConnector;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

/**
 * A {@link PoolListener} that throws an {@link Error} (an {@code AssertionError} in a test
 * listener, say) is isolated like one that throws a {@code RuntimeException}: the pool's own
 * bookkeeping never depends on a listener returning normally, and the listeners after it still
 * hear the event.
 */
@Timeout(60)
class ListenerErrorTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private final TallyListener tally = new TallyListener();
    private ScriptedServer server;
    private Endpoint endpoint;
    private Pool<SocketChannel> pool;

    @BeforeEach
    void startServer() throws IOException {
        Kernel.assumeLinux();
        server = ScriptedServer.start();
        endpoint = Endpoint.of(server.host(), server.port());
    }

    @AfterEach
    void tearDown() {
        if (pool != null) {
            pool.close();
        }
        server.close();
    }

    /** A pool with {@code bad} as its first listener and the tally after it. */
    private Pool<SocketChannel> pool(PoolListener bad, PoolConfig.Builder config) {
        pool = Pool.of(ChannelConnector.plain(), config.listener(bad).listener(tally)
                .maxPerEndpoint(1).leaseTimeout(Duration.ofMillis(500)).build());
        return pool;
    }

    @Test
    void aListenerWhoseConnectionOpenedThrowsAnErrorNeitherFailsTheLeaseNorStrandsTheNewConnection() throws Exception {
        ThrowsOnce bad = new ThrowsOnce();
        pool(new PoolListener() {
            @Override
            public void connectionOpened(Endpoint endpoint, long connectNanos) {
                bad.maybeThrow();
            }
        }, PoolConfig.builder().name("listener-error-opened"));

        Throwable thrown = catchThrowable(() -> {
            try (Lease<SocketChannel> lease = pool.lease(endpoint)) {
                assertThat(ScriptedServer.exchange(lease.connection(), 1)).isEqualTo(2);
            }
        });

        // What the pool holds is checked first: it must be whole whatever the lease saw.
        assertThat(pool.stats(endpoint)).as("after the first lease").isEqualTo(new PoolStats.EndpointStats(0, 1, 0, 0));
        try (Lease<SocketChannel> lease = pool.lease(endpoint)) {
            assertThat(lease.isReused()).as("the one connection, back in the idle set").isTrue();
        }
        assertThat(thrown).as("what the first lease threw").isNull();
        assertThat(bad.thrown.get()).as("errors the listener threw").isEqualTo(1);
        assertThat(tally.opened()).as("the next listener heard the connection opened").isEqualTo(1);
        assertThat(tally.leases()).as("leases the next listener heard").isEqualTo(2);
        assertNothingLeftAfterClose();
    }

    @Test
    void aListenerWhoseLeasedThrowsAnErrorLeavesTheReusedConnectionWithItsHolder() throws Exception {
        ThrowsOnce bad = new ThrowsOnce();
        pool(new PoolListener() {
            @Override
            public void leased(Endpoint endpoint, boolean reused, long waitNanos) {
                if (reused) {
                    bad.maybeThrow();
                }
            }
        }, PoolConfig.builder().name("listener-error-leased"));
        pool.lease(endpoint).close();

        Throwable thrown = catchThrowable(() -> {
            try (Lease<SocketChannel> lease = pool.lease(endpoint)) {
                assertThat(lease.isReused()).isTrue();
                assertThat(ScriptedServer.exchange(lease.connection(), 5)).isEqualTo(6);
            }
        });

        assertThat(pool.stats(endpoint)).as("after the second lease").isEqualTo(new PoolStats.EndpointStats(0, 1, 0, 0));
        try (Lease<SocketChannel> lease = pool.lease(endpoint)) {
            assertThat(lease.isReused()).as("served by the same connection, not stuck leased").isTrue();
        }
        assertThat(thrown).as("what the second lease threw").isNull();
        assertThat(bad.thrown.get()).as("errors the listener threw").isEqualTo(1);
        assertThat(tally.leases()).as("leases the next listener heard").isEqualTo(3);
        assertNothingLeftAfterClose();
    }

    @Test
    void aListenerWhoseConnectionClosedThrowsAnErrorNeitherFailsTheReleaseNorSilencesTheListenersAfterIt()
            throws Exception {
        ThrowsOnce bad = new ThrowsOnce();
        pool(new PoolListener() {
            @Override
            public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
                bad.maybeThrow();
            }
        }, PoolConfig.builder().name("listener-error-closed").retirement(Retirement.reset()));

        Lease<SocketChannel> lease = pool.lease(endpoint);
        lease.retire();
        Throwable thrown = catchThrowable(lease::close);

        assertThat(tally.closed(Ending.RESET, CloseReason.RETIRED)).as("closes the next listener heard: %s", tally)
                .isEqualTo(1);
        assertThat(pool.stats(endpoint)).isEqualTo(new PoolStats.EndpointStats(0, 0, 0, 0));
        assertThat(thrown).as("what the lease's close threw").isNull();
        assertThat(bad.thrown.get()).as("errors the listener threw").isEqualTo(1);
        try (Lease<SocketChannel> next = pool.lease(endpoint)) {
            assertThat(next.isReused()).isFalse();
        }
        assertNothingLeftAfterClose();
    }

    private void assertNothingLeftAfterClose() {
        assertThat(pool.stats(endpoint).active()).as("leases held").isZero();
        pool.close();
        InetSocketAddress address = server.address();
        await().atMost(WAIT).untilAsserted(() -> assertThat(Kernel.clientEstablished(address) + Kernel.clientCloseWait(address))
                .as("open client sockets after the pool closed: %s", Kernel.describe(address)).isZero());
        assertThat(tally.timeWaitCaused()).as("timewait.caused vs kernel: %s", Kernel.describe(address))
                .isEqualTo(Kernel.clientTimeWait(address));
    }

    /** Throws an {@link AssertionError} the first time only. */
    private static final class ThrowsOnce {
        final AtomicInteger thrown = new AtomicInteger();

        void maybeThrow() {
            if (thrown.compareAndSet(0, 1)) {
                throw new AssertionError("listener assertion");
            }
        }
    }
}
