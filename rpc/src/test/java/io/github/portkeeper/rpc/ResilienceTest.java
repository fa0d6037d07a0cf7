package io.github.portkeeper.rpc;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.rpc.testing.FrameServer;
import io.github.portkeeper.rpc.testing.FrameServer.Fault;
import io.github.portkeeper.rpc.testing.FrameServer.Framing;
import io.github.portkeeper.test.TallyListener;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.retry.Retry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.github.resilience4j.retry.RetryConfig;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Resilience4j around calls: a circuit breaker per endpoint, and retries of idempotent calls when that is safe. */
class ResilienceTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(2);
    private static final Duration OPEN_WAIT = Duration.ofSeconds(2);
    /** A call refused by the open breaker takes no connect, so well under this even on a loaded machine. */
    private static final Duration FAST_FAIL = OPEN_WAIT.dividedBy(2);

    private final TallyListener tally = new TallyListener();
    private FrameServer server;
    private RpcClient<String, String> client;

    @AfterEach
    void stop() throws InterruptedException {
        if (client != null) {
            assertThat(client.pool().stats().active()).isZero();
            client.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void withTheServerDownTheBreakerOpensAndCallsFailFastWithoutConnectingThenRecoverWhenItReturns() throws Exception {
        int port = freePort(); // nothing listens there: connects are refused
        Endpoint endpoint = Endpoint.of("127.0.0.1", port);
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().name("svc").listener(tally).build())
                .circuitBreaker(CircuitBreakerConfig.custom()
                        .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                        .slidingWindowSize(4).minimumNumberOfCalls(4).failureRateThreshold(50)
                        .waitDurationInOpenState(OPEN_WAIT).permittedNumberOfCallsInHalfOpenState(1)
                        .build())
                .noRetry()
                .build();

        for (int i = 0; i < 4; i++) {
            assertThatThrownBy(() -> client.call(endpoint, "ping", TIMEOUT))
                    .isInstanceOf(RpcConnectException.class)
                    .hasMessageContaining(endpoint.toString())
                    .satisfies(e -> assertThat(((RpcException) e).isRetrySafe()).isTrue());
        }
        CircuitBreaker breaker = client.circuitBreaker(endpoint).orElseThrow();
        assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(tally.connectFailed()).isEqualTo(4);
        assertThat(client.circuitBreakerRegistry().orElseThrow().getAllCircuitBreakers()).containsExactly(breaker);
        assertThat(client.retry()).as("noRetry()").isEmpty();
        assertThat(client.retryRegistry()).as("noRetry()").isEmpty();

        for (int i = 0; i < 20; i++) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> client.call(endpoint, "ping", TIMEOUT))
                    .isInstanceOfSatisfying(RpcCircuitOpenException.class, e -> {
                        assertThat(e.endpoint()).isEqualTo(endpoint);
                        assertThat(e.breakerName()).isEqualTo("svc@" + endpoint);
                    })
                    .hasMessageContaining(endpoint.toString());
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(FAST_FAIL);
            if (breaker.getState() != CircuitBreaker.State.OPEN) {
                break; // the wait in the open state passed on a slow machine; enough fast failures seen
            }
        }
        assertThat(tally.connectFailed()).as("connect attempts while open").isEqualTo(4);

        server = FrameServer.start(Framing.LINES, port);
        await().atMost(OPEN_WAIT.plusSeconds(10)).pollInterval(Duration.ofMillis(50)).ignoreExceptionsInstanceOf(RpcCircuitOpenException.class)
                .untilAsserted(() -> assertThat(client.call(endpoint, "back", TIMEOUT)).isEqualTo("back"));
        assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(client.call(endpoint, "again", TIMEOUT)).isEqualTo("again");
        assertThat(tally.connectFailed()).isEqualTo(4);
    }

    @Test
    void failingCallsOpenTheBreakerToo() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().listener(tally).build())
                .circuitBreaker(CircuitBreakerConfig.custom()
                        .slidingWindowSize(2).minimumNumberOfCalls(2).failureRateThreshold(100)
                        .waitDurationInOpenState(Duration.ofSeconds(30)).build())
                .noRetry()
                .build();
        server.inject(Fault.GARBAGE);
        server.inject(Fault.GARBAGE);
        assertThatThrownBy(() -> client.call(endpoint, "a", TIMEOUT)).isInstanceOf(RpcProtocolException.class);
        assertThatThrownBy(() -> client.call(endpoint, "b", TIMEOUT)).isInstanceOf(RpcProtocolException.class);
        int accepted = server.accepted();
        assertThatThrownBy(() -> client.call(endpoint, "c", TIMEOUT)).isInstanceOf(RpcCircuitOpenException.class);
        assertThat(server.accepted()).isEqualTo(accepted);
        assertThat(server.served()).hasSize(2);
    }

    @Test
    void anIdempotentCallOnADeadReusedConnectionIsRetriedOnAFreshConnection() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        client = RpcClient.builder(LineCodec.utf8(1024).withGoodbye(FrameServer.GOODBYE))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(2).listener(tally).build())
                .build();
        warmTwoConnections(endpoint);

        server.inject(Fault.CLOSE_BEFORE_RESPONSE);
        assertThat(client.call(endpoint, "read", TIMEOUT, Idempotency.IDEMPOTENT)).isEqualTo("read");

        assertThat(tally.opened()).as("the retry opened a fresh connection").isEqualTo(3);
        assertThat(tally.closed(CloseReason.BROKEN)).as("the dead connection").isEqualTo(1);
        // The retry leased a new connection directly: the other, healthy connection was not
        // retired to get there, and is still pooled beside the new one.
        assertThat(tally.closed(CloseReason.RETIRED)).as("healthy connections retired").isZero();
        assertThat(client.pool().stats().idle()).isEqualTo(2);
        Retry.Metrics metrics = client.retry().orElseThrow().getMetrics();
        assertThat(metrics.getNumberOfSuccessfulCallsWithRetryAttempt()).isEqualTo(1);
        assertThat(client.retryRegistry().orElseThrow().getAllRetries())
                .as("the registry holds the client's one retry, for metrics").containsExactly(client.retry().orElseThrow());
        assertThat(client.circuitBreakerRegistry()).as("no breaker configured").isEmpty();
    }

    @Test
    void theCodecCanDeclareRequestsIdempotent() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        client = RpcClient.builder(LineCodec.utf8(1024).idempotentWhen(r -> r.startsWith("GET ")))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).listener(tally).build())
                .build();
        client.call(endpoint, "warm-up", TIMEOUT);
        server.inject(Fault.RESET);
        assertThat(client.call(endpoint, "GET x", TIMEOUT)).isEqualTo("GET x");
        assertThat(tally.opened()).isEqualTo(2);
    }

    @Test
    void aCallNotMarkedIdempotentIsNeverRetried() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).listener(tally).build())
                .build();
        client.call(endpoint, "warm-up", TIMEOUT);
        server.inject(Fault.CLOSE_BEFORE_RESPONSE);
        assertThatThrownBy(() -> client.call(endpoint, "increment", TIMEOUT))
                .isInstanceOfSatisfying(RpcConnectionLostException.class, e -> assertThat(e.isRetrySafe()).isTrue());
        assertThat(server.served()).extracting(FrameServer.Served::request).containsExactly("warm-up", "increment");
    }

    @Test
    void anIdempotentCallIsNotRetriedOnceTheResponseHadBegun() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).listener(tally).build())
                .build();
        client.call(endpoint, "warm-up", TIMEOUT);
        server.inject(Fault.HALF_THEN_CLOSE);
        assertThatThrownBy(() -> client.call(endpoint, "read", TIMEOUT, Idempotency.IDEMPOTENT))
                .isInstanceOf(RpcConnectionLostException.class);
        server.inject(Fault.STALL);
        assertThatThrownBy(() -> client.call(endpoint, "read", Duration.ofMillis(200), Idempotency.IDEMPOTENT))
                .isInstanceOf(RpcTimeoutException.class);
        assertThat(server.served()).extracting(FrameServer.Served::request).containsExactly("warm-up", "read", "read");
    }

    @Test
    void anIdempotentCallIsRetriedWhenTheConnectFailed() throws Exception {
        int port = freePort();
        Endpoint endpoint = Endpoint.of("127.0.0.1", port);
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().listener(tally).build())
                .build();
        assertThatThrownBy(() -> client.call(endpoint, "read", TIMEOUT, Idempotency.IDEMPOTENT))
                .isInstanceOf(RpcConnectException.class);
        assertThat(tally.connectFailed()).as("3 attempts by default").isEqualTo(3);
        assertRetryCounted(0, 0, 0, 1);
    }

    @Test
    void aRetryWaitThatWouldPassTheCallsDeadlineIsNotWaited() throws Exception {
        Endpoint endpoint = Endpoint.of("127.0.0.1", freePort());
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().listener(tally).build())
                .retry(RetryConfig.custom().maxAttempts(3).waitDuration(Duration.ofSeconds(2)).build())
                .build();

        long start = System.nanoTime();
        assertThatThrownBy(() -> client.call(endpoint, "read", Duration.ofMillis(200), Idempotency.IDEMPOTENT))
                .isInstanceOf(RpcConnectException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("a 200 ms call with a 2 s retry wait took")
                .isLessThan(Duration.ofMillis(1500));
        assertThat(tally.connectFailed()).as("attempts").isEqualTo(1);
        assertRetryCounted(0, 0, 1, 0);
    }

    @Test
    void aCallRetriedAndThenCutAtTheDeadlineCountsAsOneCallFailedWithRetryAttempt() throws Exception {
        Endpoint endpoint = Endpoint.of("127.0.0.1", freePort());
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().listener(tally).build())
                .retry(RetryConfig.custom().maxAttempts(3)
                        .intervalFunction(attempt -> attempt == 1 ? 1L : 60_000L) // the second wait passes any deadline
                        .build())
                .build();

        assertThatThrownBy(() -> client.call(endpoint, "read", Duration.ofSeconds(30), Idempotency.IDEMPOTENT))
                .isInstanceOf(RpcConnectException.class);
        assertThat(tally.connectFailed()).as("attempts").isEqualTo(2);
        assertRetryCounted(0, 0, 0, 1);
    }

    @Test
    void aCallRetriedAndThenFailingInAWayNotRetriedCountsAsOneCallFailedWithRetryAttempt() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).listener(tally).build())
                .build();
        client.call(endpoint, "warm-up", TIMEOUT);
        server.inject(Fault.CLOSE_BEFORE_RESPONSE); // on the reused connection: retried
        server.inject(Fault.GARBAGE);               // on the fresh one: not retried

        assertThatThrownBy(() -> client.call(endpoint, "read", TIMEOUT, Idempotency.IDEMPOTENT))
                .isInstanceOf(RpcProtocolException.class);
        assertThat(server.served()).extracting(FrameServer.Served::request).containsExactly("warm-up", "read", "read");
        assertRetryCounted(0, 0, 0, 1);
    }

    @Test
    void aCallFailingInAWayNotRetriedCountsAsOneCallFailedWithoutRetryAttempt() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().listener(tally).build())
                .build();
        server.inject(Fault.GARBAGE);

        assertThatThrownBy(() -> client.call(endpoint, "read", TIMEOUT, Idempotency.IDEMPOTENT))
                .isInstanceOf(RpcProtocolException.class);
        assertRetryCounted(0, 0, 1, 0);
    }

    @Test
    void aRetryWaitThatFitsBeforeTheDeadlineIsWaited() throws Exception {
        Endpoint endpoint = Endpoint.of("127.0.0.1", freePort());
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().listener(tally).build())
                .retry(RetryConfig.custom().maxAttempts(3).waitDuration(Duration.ofMillis(200)).build())
                .build();

        long start = System.nanoTime();
        assertThatThrownBy(() -> client.call(endpoint, "read", Duration.ofSeconds(30), Idempotency.IDEMPOTENT))
                .isInstanceOf(RpcConnectException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("two waits of 200 ms").isGreaterThanOrEqualTo(Duration.ofMillis(400));
        assertThat(tally.connectFailed()).as("attempts").isEqualTo(3);
    }

    @Test
    void aCallInterruptedWhileItWaitsToRetryFailsWithInterruptedIOExceptionAndIsNotCountedByTheBreaker() throws Exception {
        Endpoint endpoint = Endpoint.of("127.0.0.1", freePort());
        CountDownLatch aboutToWait = new CountDownLatch(1);
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().listener(tally).build())
                .circuitBreaker(CircuitBreakerConfig.ofDefaults())
                .retry(RetryConfig.custom().maxAttempts(3).intervalFunction(attempt -> {
                    aboutToWait.countDown();
                    return 5_000L;
                }).build())
                .build();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean interruptKept = new AtomicBoolean();
        Thread caller = new Thread(() -> {
            try {
                client.call(endpoint, "read", Duration.ofSeconds(30), Idempotency.IDEMPOTENT);
            } catch (Throwable t) {
                failure.set(t);
                interruptKept.set(Thread.currentThread().isInterrupted());
            }
        });
        caller.start();
        assertThat(aboutToWait.await(10, TimeUnit.SECONDS)).as("the first attempt failed and a retry wait began").isTrue();
        caller.interrupt();
        caller.join(10_000);

        assertThat(caller.isAlive()).as("the interrupted caller is still waiting").isFalse();
        assertThat(failure.get()).as("what the interrupted call failed with")
                .isInstanceOf(InterruptedIOException.class)
                .hasMessageContaining(endpoint.toString());
        assertThat(interruptKept).as("the caller's interrupt flag").isTrue();
        assertThat(tally.connectFailed()).as("attempts").isEqualTo(1);
        CircuitBreaker.Metrics breaker = client.circuitBreaker(endpoint).orElseThrow().getMetrics();
        assertThat(breaker.getNumberOfBufferedCalls()).as("outcomes recorded by the breaker").isZero();
        assertRetryCounted(0, 0, 1, 0); // a failed call all the same, after one attempt
    }

    @Test
    void closingTheClientEndsACallWaitingToRetryAtOnce() throws Exception {
        Endpoint endpoint = Endpoint.of("127.0.0.1", freePort());
        CountDownLatch aboutToWait = new CountDownLatch(1);
        client = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().name("closing").listener(tally).build())
                .retry(RetryConfig.custom().maxAttempts(3).intervalFunction(attempt -> {
                    aboutToWait.countDown();
                    return 10_000L;
                }).build())
                .build();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch ended = new CountDownLatch(1);
        Thread caller = new Thread(() -> {
            try {
                client.call(endpoint, "read", Duration.ofSeconds(30), Idempotency.IDEMPOTENT);
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                ended.countDown();
            }
        });
        caller.start();
        assertThat(aboutToWait.await(10, TimeUnit.SECONDS)).as("the first attempt failed and a retry wait began").isTrue();
        client.close();

        assertThat(ended.await(5, TimeUnit.SECONDS)).as("the call ended within 5 s of close(), not after the 10 s wait").isTrue();
        assertThat(failure.get()).as("what the call failed with")
                .isExactlyInstanceOf(RpcException.class)
                .hasMessageContaining("'closing' is closed")
                .hasMessageContaining(endpoint.toString());
        assertThat(((RpcException) failure.get()).isRetrySafe()).isFalse();
        assertThat(tally.connectFailed()).as("attempts").isEqualTo(1);
        assertRetryCounted(0, 0, 1, 0);
    }

    /** The retry's calls by outcome: each idempotent call in exactly one (calls not idempotent never reach the retry). */
    private void assertRetryCounted(long successfulWithout, long successfulWith, long failedWithout, long failedWith) {
        Retry.Metrics metrics = client.retry().orElseThrow().getMetrics();
        assertThat(new long[] {
                metrics.getNumberOfSuccessfulCallsWithoutRetryAttempt(), metrics.getNumberOfSuccessfulCallsWithRetryAttempt(),
                metrics.getNumberOfFailedCallsWithoutRetryAttempt(), metrics.getNumberOfFailedCallsWithRetryAttempt()})
                .as("retry calls: successful without / with retry attempt, failed without / with retry attempt")
                .containsExactly(successfulWithout, successfulWith, failedWithout, failedWith);
    }

    private void warmTwoConnections(Endpoint endpoint) throws IOException {
        // Two leases at once force two connections.
        try (var a = client.pool().lease(endpoint); var b = client.pool().lease(endpoint)) {
            assertThat(a.isReused()).isFalse();
            assertThat(b.isReused()).isFalse();
        }
        assertThat(client.call(endpoint, "w1", TIMEOUT)).isEqualTo("w1");
        assertThat(tally.opened()).isEqualTo(2);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
