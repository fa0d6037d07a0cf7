package io.github.portkeeper.rpc;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.rpc.testing.FrameServer;
import io.github.portkeeper.rpc.testing.Leaks;
import io.github.portkeeper.rpc.testing.FrameServer.Framing;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * What {@link RpcClient.Builder} and a call make of the settings they are given: wrong ones are
 * refused by {@code build()} with a message naming the setting, the rule and the value; extreme
 * ones are taken as documented, never failing late with a bare exception.
 */
class RpcClientSettingsTest {

    private static final Duration FOREVER = Duration.ofSeconds(Long.MAX_VALUE);

    private FrameServer server;
    private RpcClient<?, ?> client;
    private final TallyListener tally = new TallyListener();

    @AfterEach
    void noLeaks() throws Exception {
        Leaks.assertNoneAndClose(client == null ? null : client.pool(), client, server);
    }

    private Endpoint startServer() throws IOException {
        server = FrameServer.start(Framing.LINES);
        return Endpoint.of(server.host(), server.port());
    }

    @Test
    void aCallTimeoutTooLongForTheClockIsTakenAsTheLongestNotAnArithmeticException() throws Exception {
        Endpoint endpoint = startServer();
        RpcClient<String, String> lines = RpcClient.builder(LineCodec.utf8(64))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).leaseTimeout(Duration.ofMillis(100)).build())
                .noRetry()
                .build();
        client = lines;

        assertThat(lines.call(endpoint, "hello", FOREVER)).isEqualTo("hello");
        try (Lease<?> held = lines.pool().lease(endpoint)) { // the only connection: the next call waits for it
            assertThat(held.isReused()).as("the held connection is the one the call used").isTrue();
            assertThatThrownBy(() -> lines.call(endpoint, "waits", FOREVER))
                    .isInstanceOf(RpcTimeoutException.class)
                    .hasMessageContaining("No connection to " + endpoint + " became free within the pool's lease timeout of 100 ms");
        }
    }

    @Test
    void aLeaseTimeoutFailureNamesThePoolsLeaseTimeoutWhenThatWasTheLimit() throws Exception {
        Endpoint endpoint = startServer();
        RpcClient<String, String> lines = RpcClient.builder(LineCodec.utf8(64))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).leaseTimeout(Duration.ofMillis(150)).build())
                .noRetry()
                .build();
        client = lines;

        try (Lease<?> held = lines.pool().lease(endpoint)) { // the only connection: the call waits for it
            assertThatThrownBy(() -> lines.call(endpoint, "waits", Duration.ofSeconds(30)))
                    .isInstanceOf(RpcTimeoutException.class)
                    .hasMessageContaining("No connection to " + endpoint + " became free within the pool's lease timeout of 150 ms")
                    .hasMessageNotContaining("call timeout");
        }
    }

    @Test
    void aLeaseTimeoutFailureNamesTheCallTimeoutWhenThatWasTheLimit() throws Exception {
        Endpoint endpoint = startServer();
        RpcClient<String, String> lines = RpcClient.builder(LineCodec.utf8(64))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).leaseTimeout(Duration.ofSeconds(30)).build())
                .noRetry()
                .build();
        client = lines;

        try (Lease<?> held = lines.pool().lease(endpoint)) {
            assertThatThrownBy(() -> lines.call(endpoint, "waits", Duration.ofMillis(150)))
                    .isInstanceOf(RpcTimeoutException.class)
                    .hasMessageContaining("No connection to " + endpoint + " became free within the call timeout of 150 ms")
                    .hasMessageNotContaining("lease timeout");
        }
    }

    @Test
    void timeoutsTooLongForTheClockAreTakenAsTheLongestNotAnArithmeticException() throws Exception {
        Endpoint endpoint = startServer();
        RpcClient<String, String> lines = RpcClient.builder(LineCodec.utf8(64))
                .timeout(FOREVER)
                .connectTimeout(FOREVER)
                .poolConfig(PoolConfig.builder().leaseTimeout(FOREVER).build())
                .build();
        client = lines;

        assertThat(lines.call(endpoint, "hello")).isEqualTo("hello");
    }

    @Test
    void aDrainTimeoutTooLongForTheClockIsTakenAsPracticallyForeverAsCoreTakesIt() throws Exception {
        try (RpcClient<String, String> explicit = RpcClient.builder(LineCodec.utf8(64)).retirement(Retirement.awaitPeer(FOREVER)).build()) {
            assertThat(explicit.pool().config().retirement().drainTimeout()).isEqualTo(FOREVER);
        }
        Endpoint endpoint = startServer();
        RpcClient<String, String> lines = RpcClient.builder(LineCodec.utf8(64).withGoodbye(FrameServer.GOODBYE))
                .drainTimeout(FOREVER)
                .poolConfig(PoolConfig.builder().listener(tally).build())
                .build();
        client = lines;
        assertThat(lines.pool().config().retirement()).hasToString("REQUEST_PEER_CLOSE(drainTimeout=" + FOREVER + ", fallback=RESET)");

        assertThat(lines.call(endpoint, "hello")).isEqualTo("hello");
        assertThat(lines.pool().retireIdle((connection, idleFor) -> true)).as("retired as EVICTED").isEqualTo(1);
        // Taken, not refused: the retiring connection drains as with any drain timeout, and the server closes first.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(tally.closed(Ending.PEER, CloseReason.EVICTED)).isEqualTo(1));
        assertThat(tally.closed(Ending.RESET)).isZero();
    }

    @Test
    void timeoutsThatAreNotPositiveAreRefusedByBuildNamingTheSetting() {
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64)).timeout(Duration.ZERO).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("timeout must be positive, but was PT0S");
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64)).timeout(Duration.ofMillis(-5)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("timeout must be positive, but was PT-0.005S");
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64)).timeout(null).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("timeout must be positive, but was null");
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64)).connectTimeout(Duration.ZERO).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("connectTimeout must be positive, but was PT0S");
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64)).connectTimeout(Duration.ofSeconds(-1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("connectTimeout must be positive, but was PT-1S");
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64)).drainTimeout(Duration.ZERO).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("drainTimeout must be positive, but was PT0S");
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64)).drainTimeout(null).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("drainTimeout must be positive, but was null");
    }

    @Test
    void aCallTimeoutThatIsNotPositiveIsRefusedBeforeAnythingIsSent() throws Exception {
        Endpoint endpoint = startServer();
        RpcClient<String, String> lines = RpcClient.builder(LineCodec.utf8(64)).build();
        client = lines;

        assertThatThrownBy(() -> lines.call(endpoint, "never sent", Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("timeout must be positive, but was PT0S");
        assertThatThrownBy(() -> lines.call(endpoint, "never sent", Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("timeout must be positive, but was PT-0.001S");
        assertThatThrownBy(() -> lines.call(endpoint, "never sent", null))
                .isInstanceOf(NullPointerException.class).hasMessage("timeout");
        assertThat(server.accepted()).as("no connection opened").isZero();
        assertThat(lines.call(endpoint, "sent", Duration.ofSeconds(5))).isEqualTo("sent");
        assertThat(server.served()).extracting(FrameServer.Served::request).containsExactly("sent");
    }

    @Test
    void requestPeerCloseWithACodecThatHasNoGoodbyeIsRefusedByBuild() {
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64))
                .retirement(Retirement.requestPeerClose(Duration.ofSeconds(5))).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("retirement must be AWAIT_PEER, RESET or LOCAL when the codec has no goodbye, but was "
                        + "REQUEST_PEER_CLOSE(drainTimeout=PT5S, fallback=RESET) (a codec with no goodbye cannot ask the peer to close)");

        client = RpcClient.builder(LineCodec.utf8(64).withGoodbye("QUIT"))
                .retirement(Retirement.requestPeerClose(Duration.ofSeconds(5))).build();
        assertThat(client.pool().config().retirement().policy()).isEqualTo(Retirement.Policy.REQUEST_PEER_CLOSE);
    }

    @Test
    void drainTimeoutSetTogetherWithRetirementIsRefusedByBuildNamingBoth() {
        String message = "drainTimeout must not be set together with retirement, which carries its own "
                + "(AWAIT_PEER(drainTimeout=PT1M, fallback=RESET)), but was PT5S";
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64))
                .drainTimeout(Duration.ofSeconds(5)).retirement(Retirement.awaitPeer(Duration.ofMinutes(1))).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(message);
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64))
                .retirement(Retirement.awaitPeer(Duration.ofMinutes(1))).drainTimeout(Duration.ofSeconds(5)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(message);
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64))
                .retirement(Retirement.reset()).drainTimeout(Duration.ofSeconds(30)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("drainTimeout must not be set together with retirement, which carries its own (RESET), but was PT30S");
    }

    @Test
    void aRetirementAloneKeepsItsDrainTimeoutAndADrainTimeoutAloneShapesTheDerivedRetirement() {
        try (RpcClient<String, String> explicit = RpcClient.builder(LineCodec.utf8(64))
                .retirement(Retirement.awaitPeer(Duration.ofMinutes(1))).build();
             RpcClient<String, String> derived = RpcClient.builder(LineCodec.utf8(64).withGoodbye("QUIT"))
                     .drainTimeout(Duration.ofSeconds(5)).build();
             RpcClient<String, String> byDefault = RpcClient.builder(LineCodec.utf8(64)).build()) {
            assertThat(explicit.pool().config().retirement()).hasToString("AWAIT_PEER(drainTimeout=PT1M, fallback=RESET)");
            assertThat(derived.pool().config().retirement()).hasToString("REQUEST_PEER_CLOSE(drainTimeout=PT5S, fallback=RESET)");
            assertThat(byDefault.pool().config().retirement()).hasToString("AWAIT_PEER(drainTimeout=PT30S, fallback=RESET)");
        }
    }

    @Test
    void missingResilienceSettingsAreRefusedNamingTheSetting() {
        RpcClient.Builder<String, String> builder = RpcClient.builder(LineCodec.utf8(64));
        assertThatThrownBy(() -> builder.circuitBreaker(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("circuitBreaker");
        assertThatThrownBy(() -> builder.circuitBreakerRegistry(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("circuitBreakerRegistry");
        assertThatThrownBy(() -> builder.retry(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("retry");
    }
}
