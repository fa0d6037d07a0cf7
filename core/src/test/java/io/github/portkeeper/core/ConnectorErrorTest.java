package io.github.portkeeper.core;

import io.github.portkeeper.core.resilience.Resilience4jConnectGuard;
import io.github.portkeeper.core.testing.PoolsUnderTest;
import io.github.portkeeper.core.testing.ResettingChannelConnector;
import io.github.portkeeper.test.TallyListener;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * An {@link Error} thrown by the user's code around a connection (an {@code AssertionError} with
 * {@code -ea}, a class that failed to initialize) surfaces unchanged, and the pool gives back all
 * it held for that connection: its slot, its port, the connect guard's permission, the socket.
 */
@Timeout(60)
class ConnectorErrorTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    @RegisterExtension
    final PoolsUnderTest pools = new PoolsUnderTest();

    private final TallyListener tally = pools.tally();
    private final List<Throwable> rejections = pools.rejections();
    private ServerSocket server;
    private Endpoint endpoint;

    private void startServer() throws IOException {
        server = pools.closeAfter(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        endpoint = Endpoint.of(InetAddress.getLoopbackAddress().getHostAddress(), server.getLocalPort());
    }

    private Pool<SocketChannel> pool(Connector<SocketChannel> connector, PoolConfig.Builder config) {
        return pools.of(connector, config);
    }

    @Test
    void aConnectorThatThrowsAnErrorFreesItsSlotSoTheNextLeaseIsServed() throws Exception {
        startServer();
        AssertionError bug = new AssertionError("connector bug");
        AtomicBoolean failNext = new AtomicBoolean(true);
        Pool<SocketChannel> pool = pool(connector(() -> {
            if (failNext.getAndSet(false)) {
                throw bug;
            }
        }), PoolConfig.builder().name("connector-error").maxPerEndpoint(1).leaseTimeout(Duration.ofMillis(300)));

        Throwable thrown = catchThrowable(() -> pool.lease(endpoint));

        assertThat(thrown).as("the connector's Error, unchanged").isSameAs(bug);
        assertThat(tally.connectFailed()).as("connect failures reported").isEqualTo(1);
        assertThat(rejections).as("rejected leases reported").containsExactly(bug);
        assertThat(pool.stats().endpoint(endpoint).active()).isZero();
        try (Lease<SocketChannel> lease = pool.lease(endpoint)) {
            assertThat(lease.connection().isConnected()).isTrue();
        }
        assertThat(tally.opened()).isEqualTo(1);
        assertThat(tally.leases()).isEqualTo(1);
        assertThat(tally.connectFailed()).as("connect failures after the next lease").isEqualTo(1);
        assertThat(rejections).hasSize(1);
    }

    @Test
    void aConnectorThatThrowsAnErrorGivesBackAHalfOpenBreakersTrialCall() throws Exception {
        startServer();
        Resilience4jConnectGuard guard = Resilience4jConnectGuard.builder().circuitBreaker(CircuitBreakerConfig.custom()
                .permittedNumberOfCallsInHalfOpenState(1).build()).build();
        AtomicBoolean failNext = new AtomicBoolean(true);
        Pool<SocketChannel> pool = pool(connector(() -> {
            if (failNext.getAndSet(false)) {
                throw new AssertionError("connector bug");
            }
        }), PoolConfig.builder().name("connector-error-half-open").connectGuard(guard));
        CircuitBreaker breaker = guard.circuitBreakers().circuitBreaker("portkeeper-" + endpoint);
        breaker.transitionToOpenState();
        breaker.transitionToHalfOpenState(); // one trial connect allowed

        assertThatThrownBy(() -> pool.lease(endpoint)).isInstanceOf(AssertionError.class).hasMessage("connector bug");

        // An Error is a bug in the connector, not news of the endpoint: the trial is given back
        // (else the breaker stays half open with its one trial spent, refusing every connect).
        assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
        assertThat(breaker.getMetrics().getNumberOfFailedCalls()).as("failures the breaker recorded").isZero();
        try (Lease<SocketChannel> lease = pool.lease(endpoint)) {
            assertThat(lease.connection().isConnected()).isTrue();
        }
        assertThat(breaker.getState()).as("the trial succeeded").isEqualTo(CircuitBreaker.State.CLOSED);
    }

    @Test
    void aConnectGuardThatThrowsAnErrorFreesTheSlotSoTheNextLeaseIsServed() throws Exception {
        startServer();
        AssertionError bug = new AssertionError("guard bug");
        AtomicBoolean failNext = new AtomicBoolean(true);
        ConnectGuard guard = ep -> {
            if (failNext.getAndSet(false)) {
                throw bug;
            }
        };
        Pool<SocketChannel> pool = pool(connector(() -> { }), PoolConfig.builder().name("guard-error")
                .maxPerEndpoint(1).leaseTimeout(Duration.ofMillis(300)).connectGuard(guard));

        assertThat(catchThrowable(() -> pool.lease(endpoint))).isSameAs(bug);
        assertThat(rejections).as("rejected leases reported").containsExactly(bug);
        assertThat(tally.connectFailed()).as("a refusal is no failed connect").isZero();

        try (Lease<SocketChannel> lease = pool.lease(endpoint)) {
            assertThat(lease.connection().isConnected()).isTrue();
        }
        assertThat(rejections).hasSize(1);
    }

    @Test
    void aGoodbyeThatThrowsAnErrorStillClosesTheConnection() throws Exception {
        startServer();
        CountDownLatch serverSawClose = new CountDownLatch(1);
        Thread serverThread = new Thread(() -> {
            // Reads until the client's close arrives (end of stream, or a reset).
            try (Socket accepted = server.accept()) {
                accepted.setSoTimeout((int) WAIT.toMillis());
                InputStream in = accepted.getInputStream();
                while (in.read() >= 0) {
                    // nothing is expected; a byte would only be skipped
                }
                serverSawClose.countDown();
            } catch (java.net.SocketTimeoutException e) {
                // the client kept the connection open: the latch stays up
            } catch (IOException e) {
                serverSawClose.countDown(); // a reset
            }
        }, "goodbye-error-server");
        serverThread.setDaemon(true);
        serverThread.start();
        AssertionError bug = new AssertionError("goodbye bug");
        Connector<SocketChannel> connector = new ChannelsWithGoodbye(() -> {
            throw bug;
        });
        Pool<SocketChannel> pool = pool(connector, PoolConfig.builder().name("goodbye-error")
                .maxPerEndpoint(1).leaseTimeout(Duration.ofMillis(300))
                .retirement(Retirement.requestPeerClose(WAIT)));
        Lease<SocketChannel> lease = pool.lease(endpoint);
        lease.retire();

        assertThat(catchThrowable(lease::close)).as("the goodbye's Error, unchanged").isSameAs(bug);

        assertThat(serverSawClose.await(WAIT.toMillis(), TimeUnit.MILLISECONDS))
                .as("the server saw the connection closed after the goodbye's Error").isTrue();
        assertThat(tally.closedTotal()).as("closes reported").isEqualTo(1);
        assertThat(pool.stats().endpoint(endpoint)).isEqualTo(new PoolStats.EndpointStats(0, 0, 0, 0));
    }

    /** Runs {@code before} at the start of every connect, then connects a real channel (SO_LINGER 0). */
    private static Connector<SocketChannel> connector(Runnable before) {
        return new ChannelsWithGoodbye(null) {
            @Override
            public SocketChannel connect(Endpoint endpoint) throws IOException {
                before.run();
                return super.connect(endpoint);
            }
        };
    }

    /** Real blocking channels (SO_LINGER 0); {@code goodbye} (if any) runs as the protocol's request to close. */
    private static class ChannelsWithGoodbye extends ResettingChannelConnector {
        private final Runnable goodbye;

        ChannelsWithGoodbye(Runnable goodbye) {
            super(WAIT);
            this.goodbye = goodbye;
        }

        @Override
        public boolean requestPeerClose(SocketChannel connection) {
            if (goodbye == null) {
                return false;
            }
            goodbye.run();
            return true;
        }
    }
}
