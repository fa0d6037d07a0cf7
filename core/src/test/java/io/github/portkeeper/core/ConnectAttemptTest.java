package io.github.portkeeper.core;

import io.github.portkeeper.core.resilience.Resilience4jConnectGuard;
import io.github.portkeeper.test.TallyListener;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * What happens around a lease's own connect: a refusal by the connect guard, a pool closed
 * while the lease waited in the guard, and an interrupt (a cancelled caller, not a failing
 * endpoint).
 */
class ConnectAttemptTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private final TallyListener tally = new TallyListener();
    private final List<AutoCloseable> closeAfter = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        Thread.interrupted();
        for (int i = closeAfter.size() - 1; i >= 0; i--) {
            closeAfter.get(i).close();
        }
    }

    /** A connector whose connections never reached a peer: their closes leave no TIME_WAIT. */
    private static final class NoPeer implements Connector<Object> {
        @Override
        public Object connect(Endpoint endpoint) {
            return new Object();
        }

        @Override
        public boolean wasEstablished(Object connection) {
            return false;
        }
    }

    @Test
    void anEndpointWhoseOnlyConnectTheGuardRefusedIsForgottenByItsDeadline() throws InterruptedException {
        Endpoint refused = Endpoint.of("refused.example", 80);
        CountDownLatch removed = new CountDownLatch(1);
        ConnectGuard refuseAll = endpoint -> {
            throw new ConnectRateLimitedException(endpoint, "no connects allowed", null);
        };
        Pool<Object> pool = Pool.of(new NoPeer(), PoolConfig.builder().name("refusing")
                .maxIdleTime(Duration.ofMillis(200)).housekeepingInterval(Duration.ofMillis(50))
                .portBudget(PortBudget.disabled()).connectGuard(refuseAll)
                .listener(new PoolListener() {
                    @Override
                    public void endpointRemoved(Endpoint endpoint) {
                        if (endpoint.equals(refused)) {
                            removed.countDown();
                        }
                    }
                }).build());
        closeAfter.add(pool);

        assertThatThrownBy(() -> pool.lease(refused)).isInstanceOf(ConnectRateLimitedException.class);
        assertThat(pool.endpoints()).containsExactly(refused);

        // Nothing else happens in this pool: only the wake-up the refusal asks for can forget it.
        await().atMost(WAIT).until(() -> pool.endpoints().isEmpty());
        // The endpoint leaves the map before the listener hears of it: wait for the event itself.
        assertThat(removed.await(WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)).as("endpointRemoved heard").isTrue();
    }

    @Test
    void aLeaseInTheGuardWhenThePoolClosesOpensNoConnection() throws Exception {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        closeAfter.add(server);
        CountDownLatch inGuard = new CountDownLatch(1);
        CountDownLatch letThrough = new CountDownLatch(1);
        ConnectGuard blocking = endpoint -> {
            inGuard.countDown();
            try {
                if (!letThrough.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                    throw new IllegalStateException("never let through");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        };
        SocketPool sockets = SocketPool.builder().readTimeout(WAIT)
                .poolConfig(PoolConfig.builder().name("closing").connectGuard(blocking).listener(tally).build()).build();
        closeAfter.add(sockets);
        Endpoint endpoint = Endpoint.of(InetAddress.getLoopbackAddress().getHostAddress(), server.getLocalPort());

        CompletableFuture<Lease<?>> lease = CompletableFuture.supplyAsync(() -> {
            try {
                return sockets.pool().lease(endpoint);
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        assertThat(inGuard.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("lease reached the guard").isTrue();
        sockets.close();
        letThrough.countDown();

        assertThatThrownBy(() -> lease.get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(PoolClosedException.class);
        assertThat(tally.opened()).as("connections opened").isZero();
        server.setSoTimeout(500);
        assertThatThrownBy(server::accept).as("the server saw no connection").isInstanceOf(SocketTimeoutException.class);
        assertThat(sockets.pool().stats().active()).isZero();
    }

    @Test
    void interruptedLeasesDoNotOpenTheCircuitBreakerOfAHealthyServer() throws Exception {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        closeAfter.add(server);
        Resilience4jConnectGuard breaker = Resilience4jConnectGuard.builder().circuitBreaker(CircuitBreakerConfig.custom()
                .slidingWindowSize(3).minimumNumberOfCalls(3).failureRateThreshold(50).build()).build();
        SocketPool sockets = SocketPool.builder().readTimeout(WAIT)
                .poolConfig(PoolConfig.builder().name("cancelled").connectGuard(breaker).listener(tally).build()).build();
        closeAfter.add(sockets);
        Endpoint endpoint = Endpoint.of(InetAddress.getLoopbackAddress().getHostAddress(), server.getLocalPort());

        for (int i = 0; i < 3; i++) {
            Thread.currentThread().interrupt(); // a cancelled caller (Future.cancel(true))
            assertThatThrownBy(() -> sockets.pool().lease(endpoint))
                    .isInstanceOf(PoolException.class).hasCauseInstanceOf(InterruptedIOException.class);
            assertThat(Thread.interrupted()).as("interrupt status kept").isTrue();
        }

        assertThat(tally.connectFailed()).as("connect failures").isZero();
        try (Lease<SocketChannel> lease = sockets.pool().lease(endpoint)) {
            assertThat(lease.connection().isConnected()).isTrue();
        }
        assertThat(sockets.pool().stats().active()).isZero();
    }

    @Test
    void aConnectCutShortByAnInterruptIsNoEndpointFailure() throws Exception {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        closeAfter.add(server);
        // A user's connector whose caller is interrupted as its connect starts: the JDK closes
        // the channel and throws ClosedByInterruptException.
        Connector<SocketChannel> interruptedDuringConnect = interruptingConnector(() -> true);
        Pool<SocketChannel> pool = Pool.of(interruptedDuringConnect, PoolConfig.builder().name("interrupted-connect")
                .listener(tally).build());
        closeAfter.add(pool);
        Endpoint endpoint = Endpoint.of(InetAddress.getLoopbackAddress().getHostAddress(), server.getLocalPort());

        assertThatThrownBy(() -> pool.lease(endpoint))
                .isInstanceOf(PoolException.class).isNotInstanceOf(ConnectFailedException.class)
                .hasCauseInstanceOf(InterruptedIOException.class);
        assertThat(Thread.interrupted()).as("interrupt status kept").isTrue();
        assertThat(tally.connectFailed()).as("connect failures").isZero();
        assertThat(pool.stats().active()).isZero();
        assertThat(pool.stats().endpoint(endpoint).active()).as("the slot was given back").isZero();
    }

    @Test
    void aConnectCutShortByAnInterruptGivesBackAHalfOpenBreakersTrialCall() throws Exception {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        closeAfter.add(server);
        Resilience4jConnectGuard guard = Resilience4jConnectGuard.builder().circuitBreaker(CircuitBreakerConfig.custom()
                .permittedNumberOfCallsInHalfOpenState(1).build()).build();
        java.util.concurrent.atomic.AtomicBoolean interruptNext = new java.util.concurrent.atomic.AtomicBoolean(true);
        // The first connect is cut short by an interrupt of its caller, the next ones go through.
        Connector<SocketChannel> connector = interruptingConnector(() -> interruptNext.getAndSet(false));
        Pool<SocketChannel> pool = Pool.of(connector, PoolConfig.builder().name("half-open").listener(tally).connectGuard(guard).build());
        closeAfter.add(pool);
        Endpoint endpoint = Endpoint.of(InetAddress.getLoopbackAddress().getHostAddress(), server.getLocalPort());
        io.github.resilience4j.circuitbreaker.CircuitBreaker breaker = guard.circuitBreakers().circuitBreaker("portkeeper-" + endpoint);
        breaker.transitionToOpenState();
        breaker.transitionToHalfOpenState(); // one trial connect allowed

        assertThatThrownBy(() -> pool.lease(endpoint)).hasCauseInstanceOf(InterruptedIOException.class);
        assertThat(Thread.interrupted()).as("interrupt status kept").isTrue();

        // The trial the interrupted connect was allowed was neither a success nor a failure: it
        // is given back, so the next connect may make the trial (else the breaker stays half open
        // with its one trial spent, refusing every connect).
        try (Lease<SocketChannel> lease = pool.lease(endpoint)) {
            assertThat(lease.connection().isConnected()).isTrue();
        }
        assertThat(breaker.getState()).as("the trial succeeded").isNotEqualTo(io.github.resilience4j.circuitbreaker.CircuitBreaker.State.OPEN);
    }

    /**
     * A connector of real channels (SO_LINGER 0, as the pool's own) that interrupts its caller
     * just before the connect whenever {@code interruptNow} says so: the JDK then closes the
     * channel and throws {@code ClosedByInterruptException} from inside {@code connect}.
     */
    private static Connector<SocketChannel> interruptingConnector(java.util.function.BooleanSupplier interruptNow) {
        return new Connector<>() {
            @Override
            public SocketChannel connect(Endpoint endpoint) throws IOException {
                SocketChannel channel = SocketChannel.open();
                try {
                    channel.setOption(StandardSocketOptions.SO_LINGER, 0);
                    if (interruptNow.getAsBoolean()) {
                        Thread.currentThread().interrupt();
                    }
                    channel.socket().connect(new InetSocketAddress(endpoint.host(), endpoint.port()), (int) WAIT.toMillis());
                    return channel;
                } catch (IOException | RuntimeException e) {
                    channel.close();
                    throw e;
                }
            }

            @Override
            public SocketChannel channel(SocketChannel connection) {
                return connection;
            }
        };
    }
}
