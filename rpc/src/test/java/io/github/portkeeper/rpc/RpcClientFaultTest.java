package io.github.portkeeper.rpc;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.rpc.testing.FrameServer;
import io.github.portkeeper.rpc.testing.Leaks;
import io.github.portkeeper.rpc.testing.FrameServer.Fault;
import io.github.portkeeper.rpc.testing.FrameServer.Framing;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Every fault a peer can commit mid-exchange gives the documented exception, the faulty
 * connection is discarded (never carries another request), and the next call succeeds on a fresh
 * connection. Against a real loopback server that misbehaves on cue.
 */
class RpcClientFaultTest {

    /** Long enough that a fast failure is told from a timed-out one on a loaded machine. */
    private static final Duration TIMEOUT = Duration.ofSeconds(2);

    private FrameServer server;
    private RpcClient<?, ?> client;
    private final TallyListener tally = new TallyListener();

    @AfterEach
    void noLeaks() throws Exception {
        Leaks.assertNoneAndClose(client == null ? null : client.pool(), client, server);
    }

    static Stream<Arguments> faults() {
        return Stream.of(
                Arguments.of(Framing.LENGTH_PREFIXED, Fault.GARBAGE, RpcProtocolException.class, "exceeds the maximum payload"),
                Arguments.of(Framing.LINES, Fault.GARBAGE, RpcProtocolException.class, "not valid UTF-8"),
                Arguments.of(Framing.LENGTH_PREFIXED, Fault.OVERSIZED_PREFIX, RpcProtocolException.class, "frame length 2147483647 exceeds"),
                Arguments.of(Framing.LINES, Fault.OVERSIZED_PREFIX, RpcProtocolException.class, "line exceeds 1024 bytes"),
                Arguments.of(Framing.LENGTH_PREFIXED, Fault.HALF_THEN_CLOSE, RpcConnectionLostException.class, "closed the connection after"),
                Arguments.of(Framing.LINES, Fault.HALF_THEN_CLOSE, RpcConnectionLostException.class, "closed the connection after"),
                Arguments.of(Framing.LENGTH_PREFIXED, Fault.STALL, RpcTimeoutException.class, "No complete response from"),
                Arguments.of(Framing.LINES, Fault.STALL, RpcTimeoutException.class, "No complete response from"),
                Arguments.of(Framing.LENGTH_PREFIXED, Fault.RESET, RpcConnectionLostException.class, "before any response byte"),
                Arguments.of(Framing.LENGTH_PREFIXED, Fault.CLOSE_BEFORE_RESPONSE, RpcConnectionLostException.class, "before any response byte"),
                Arguments.of(Framing.LENGTH_PREFIXED, Fault.TRAILING_BYTES, RpcProtocolException.class, "nobody asked for"),
                Arguments.of(Framing.LINES, Fault.ENDLESS, RpcProtocolException.class, "line exceeds 1024 bytes"));
    }

    @ParameterizedTest(name = "{1} ({0}) fails with {2}")
    @MethodSource("faults")
    void faultFailsTheCallDiscardsTheConnectionAndTheNextCallSucceedsOnAFreshOne(
            Framing framing, Fault fault, Class<? extends RpcException> expected, String detail) throws Exception {
        server = FrameServer.start(framing);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        Caller caller = caller(framing);

        assertThat(caller.call(endpoint, "warm-up")).isEqualTo("warm-up");
        int faultyConnection = server.lastServed().connection();

        server.inject(fault);
        long start = System.nanoTime();
        assertThatThrownBy(() -> caller.call(endpoint, "hit"))
                .isInstanceOf(expected)
                .hasMessageContaining(endpoint.toString())
                .hasMessageContaining(detail)
                .satisfies(e -> assertThat(((RpcException) e).endpoint()).isEqualTo(endpoint));
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        if (fault == Fault.STALL) {
            assertThat(took).isGreaterThanOrEqualTo(TIMEOUT).isLessThan(TIMEOUT.plusSeconds(2));
        } else {
            assertThat(took).as("fails fast, without waiting for the timeout").isLessThan(TIMEOUT);
        }
        assertThat(tally.closed(CloseReason.BROKEN)).as("the faulty connection was discarded").isEqualTo(1);

        assertThat(caller.call(endpoint, "after")).isEqualTo("after");
        assertThat(tally.opened()).as("the next call opened a fresh connection").isEqualTo(2);
        assertThat(server.lastServed().connection()).isNotEqualTo(faultyConnection);
        assertThat(server.served()).filteredOn(s -> s.connection() == faultyConnection)
                .extracting(FrameServer.Served::request)
                .as("requests carried by the faulty connection")
                .containsExactly("warm-up", "hit");
        assertThat(tally.closed(Ending.LOCAL)).as("connections this host closed first").isZero();
    }

    @Test
    void halfAResponseIsNotRetrySafeAndSaysHowMuchArrived() throws Exception {
        server = FrameServer.start(Framing.LENGTH_PREFIXED);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        Caller caller = caller(Framing.LENGTH_PREFIXED);
        caller.call(endpoint, "warm-up");
        server.inject(Fault.HALF_THEN_CLOSE);

        assertThatThrownBy(() -> caller.call(endpoint, "0123456789"))
                .isInstanceOfSatisfying(RpcConnectionLostException.class, e -> {
                    assertThat(e.responseBytes()).isEqualTo(7); // half of a 4 + 10 byte frame
                    assertThat(e.connectionReused()).isTrue();
                    assertThat(e.isRetrySafe()).isFalse();
                });
    }

    @Test
    void aReusedConnectionThatDiesBeforeAnyResponseByteIsRetrySafe() throws Exception {
        server = FrameServer.start(Framing.LENGTH_PREFIXED);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        Caller caller = caller(Framing.LENGTH_PREFIXED);
        caller.call(endpoint, "warm-up");
        server.inject(Fault.CLOSE_BEFORE_RESPONSE);

        assertThatThrownBy(() -> caller.call(endpoint, "hit"))
                .isInstanceOfSatisfying(RpcConnectionLostException.class, e -> {
                    assertThat(e.responseBytes()).isZero();
                    assertThat(e.isRetrySafe()).isTrue();
                });
    }

    @Test
    void aResponseOverTheMaximumFrameSizeIsStoppedWhateverTheCodecDoes() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        RpcClient<String, String> unbounded = RpcClient.builder(new UnboundedLineCodec(4096))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).listener(tally).build())
                .noRetry()
                .build();
        client = unbounded;
        assertThat(unbounded.call(endpoint, "warm-up", TIMEOUT)).isEqualTo("warm-up");
        server.inject(Fault.ENDLESS);

        assertThatThrownBy(() -> unbounded.call(endpoint, "hit", TIMEOUT))
                .isInstanceOf(RpcProtocolException.class)
                .hasMessageContaining("exceeds the codec's maximum frame size of 4096 bytes");
        assertThat(unbounded.call(endpoint, "after", TIMEOUT)).isEqualTo("after");
        assertThat(tally.opened()).isEqualTo(2);
    }

    @Test
    void aRequestTheCodecRefusesIsNotSentAndTheConnectionStaysInUse() throws Exception {
        server = FrameServer.start(Framing.LENGTH_PREFIXED);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        Caller caller = caller(Framing.LENGTH_PREFIXED);
        caller.call(endpoint, "warm-up");

        assertThatThrownBy(() -> caller.call(endpoint, "x".repeat(2000)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("exceeds the maximum payload of 1024 bytes");
        assertThat(caller.call(endpoint, "after")).isEqualTo("after");
        assertThat(tally.opened()).isEqualTo(1);
        assertThat(server.served()).extracting(FrameServer.Served::request).containsExactly("warm-up", "after");
    }

    @Test
    void aRequestTheCodecRefusesFailsAsSuchWithoutConnectingEvenToAnEndpointThatIsDown() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort(); // nothing listens there once closed: a connect would be refused
        }
        Endpoint endpoint = Endpoint.of("127.0.0.1", port);
        RpcClient<String, String> lines = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().listener(tally).build())
                .build();
        client = lines;

        assertThatThrownBy(() -> lines.call(endpoint, "a\nb", TIMEOUT, Idempotency.IDEMPOTENT))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("line break");
        assertThat(tally.connectFailed()).as("connects tried for a request that could not be sent").isZero();
        assertThat(tally.leases()).isZero();
    }

    @Test
    void aResponseThatEndsAtTheEndOfStreamIsReturnedAndItsConnectionIsNotReused() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        RpcClient<String, String> closeDelimited = RpcClient.builder(new ReadToEndCodec())
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).listener(tally).build())
                .noRetry()
                .build();
        client = closeDelimited;
        server.inject(Fault.HALF_THEN_CLOSE);
        assertThat(closeDelimited.call(endpoint, "abcdefg", TIMEOUT)).isEqualTo("abcd"); // half of "abcdefg\n"
        assertThat(tally.closed(Ending.PEER, CloseReason.BROKEN)).isEqualTo(1);
        assertThat(client.pool().stats().idle()).isZero();
    }

    @Test
    void aCallInterruptedWhileWaitingForAConnectionFailsWithInterruptedIOException() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        RpcClient<String, String> lines = RpcClient.builder(LineCodec.utf8(1024))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).listener(tally).build()).noRetry().build();
        client = lines;
        assertThat(lines.call(endpoint, "warm-up", TIMEOUT)).isEqualTo("warm-up");
        server.inject(Fault.STALL);
        java.util.concurrent.CompletableFuture<Void> holder = java.util.concurrent.CompletableFuture.runAsync(() -> {
            try {
                lines.call(endpoint, "hold", Duration.ofSeconds(3)); // holds the one connection until it times out
            } catch (IOException expected) {
                // RpcTimeoutException
            }
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> lines.pool().stats().active() == 1);

        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        Thread waiter = new Thread(() -> {
            try {
                lines.call(endpoint, "wait", Duration.ofSeconds(10));
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        waiter.start();
        await().atMost(Duration.ofSeconds(5)).until(() -> lines.pool().stats().pending() == 1);
        waiter.interrupt();
        waiter.join(5_000);

        assertThat(waiter.isAlive()).as("the interrupted caller is still waiting").isFalse();
        assertThat(failure.get()).as("what the interrupted call failed with")
                .isInstanceOf(java.io.InterruptedIOException.class)
                .hasMessageContaining(endpoint.toString());
        holder.get(10, java.util.concurrent.TimeUnit.SECONDS);
    }

    @Test
    void aTimeoutTheCodecSwallowedStillFailsTheCallAndTheLateReplyReachesNoOtherCall() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        RpcClient<String, String> swallowing = swallowingClient();
        server.inject(Fault.HELD);

        assertThatThrownBy(() -> swallowing.call(endpoint, "a", Duration.ofMillis(200)))
                .isInstanceOf(RpcTimeoutException.class)
                .hasMessageContaining("No complete response from " + endpoint);
        server.releaseHeld();
        await().atMost(Duration.ofSeconds(5)).until(() -> server.heldAnswered() == 1); // a's late reply is on its way

        assertThat(swallowing.call(endpoint, "b", TIMEOUT)).as("the reply to b, not a's late one").isEqualTo("b");
        assertThat(tally.closed(CloseReason.BROKEN)).as("the timed-out connection was discarded").isEqualTo(1);
        assertThat(tally.opened()).isEqualTo(2);
    }

    @Test
    void aResetTheCodecSwallowedStillFailsTheCallAndTheConnectionIsNotReused() throws Exception {
        server = FrameServer.start(Framing.LINES);
        Endpoint endpoint = Endpoint.of(server.host(), server.port());
        RpcClient<String, String> swallowing = swallowingClient();
        assertThat(swallowing.call(endpoint, "warm-up", TIMEOUT)).isEqualTo("warm-up");
        server.inject(Fault.RESET);

        assertThatThrownBy(() -> swallowing.call(endpoint, "hit", TIMEOUT))
                .isInstanceOf(RpcConnectionLostException.class)
                .hasMessageContaining("Connection to " + endpoint + " failed before any response byte");
        assertThat(tally.closed(CloseReason.BROKEN)).as("the reset connection was discarded").isEqualTo(1);
        assertThat(swallowing.call(endpoint, "after", TIMEOUT)).isEqualTo("after");
        assertThat(tally.opened()).isEqualTo(2);
    }

    // ------------------------------------------------------------------ helpers

    /** One string-in, string-out call, whichever the framing. */
    @FunctionalInterface
    interface Caller {
        String call(Endpoint endpoint, String request) throws IOException;
    }

    /** A client with one connection per endpoint and no retries, so each fault is seen as it is. */
    private Caller caller(Framing framing) {
        PoolConfig config = PoolConfig.builder().maxPerEndpoint(1).listener(tally).build();
        if (framing == Framing.LINES) {
            RpcClient<String, String> lines = RpcClient.builder(LineCodec.utf8(1024)).poolConfig(config).noRetry().build();
            client = lines;
            return (e, r) -> lines.call(e, r, TIMEOUT);
        }
        RpcClient<byte[], byte[]> frames = RpcClient.builder(LengthPrefixedCodec.withMaxPayload(1024)).poolConfig(config).noRetry().build();
        client = frames;
        return (e, r) -> new String(frames.call(e, r.getBytes(StandardCharsets.UTF_8), TIMEOUT), StandardCharsets.UTF_8);
    }

    /** One connection per endpoint, no retries, and a codec that turns every read failure into a response. */
    private RpcClient<String, String> swallowingClient() {
        RpcClient<String, String> swallowing = RpcClient.builder(new SwallowingCodec(LineCodec.utf8(1024)))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).listener(tally).build())
                .noRetry()
                .build();
        client = swallowing;
        return swallowing;
    }

    /** A careless codec: whatever goes wrong while reading, it makes up a response instead of throwing. */
    private static final class SwallowingCodec implements RpcCodec<String, String> {
        private final RpcCodec<String, String> delegate;

        SwallowingCodec(RpcCodec<String, String> delegate) {
            this.delegate = delegate;
        }

        @Override
        public void encode(String request, OutputStream out) throws IOException {
            delegate.encode(request, out);
        }

        @Override
        public String decode(InputStream in) {
            try {
                return delegate.decode(in);
            } catch (IOException e) {
                return "made up after " + e;
            }
        }

        @Override
        public int maxFrameSize() {
            return delegate.maxFrameSize();
        }
    }

    /** A close-delimited protocol: the response is everything up to the end of stream. */
    private static final class ReadToEndCodec implements RpcCodec<String, String> {
        @Override
        public void encode(String request, OutputStream out) throws IOException {
            out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String decode(InputStream in) throws IOException {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }

        @Override
        public int maxFrameSize() {
            return 1024;
        }
    }

    /** A careless codec: reads a line with no limit of its own. */
    private static final class UnboundedLineCodec implements RpcCodec<String, String> {
        private final int maxFrameSize;

        UnboundedLineCodec(int maxFrameSize) {
            this.maxFrameSize = maxFrameSize;
        }

        @Override
        public void encode(String request, OutputStream out) throws IOException {
            out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String decode(InputStream in) throws IOException {
            StringBuilder line = new StringBuilder();
            for (int b = in.read(); b != '\n'; b = in.read()) {
                if (b < 0) {
                    throw new java.io.EOFException();
                }
                line.append((char) b);
            }
            return line.toString();
        }

        @Override
        public int maxFrameSize() {
            return maxFrameSize;
        }
    }

}
