package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.rpc.testing.FrameServer;
import io.github.portkeeper.rpc.testing.FrameServer.Framing;
import io.github.portkeeper.test.Kernel;
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

    @AfterEach
    void noLeaks() throws Exception {
        if (client != null) {
            assertThat(client.pool().stats().active()).as("leased connections").isZero();
            client.close();
        }
        if (server != null) {
            if (Kernel.isAvailable()) {
                await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                        assertThat(Kernel.clientCloseWait(server.address())).as("CLOSE_WAIT toward the server").isZero());
                assertThat(Kernel.clientTimeWait(server.address())).as("client TIME_WAIT toward the server").isZero();
            }
            server.close();
        }
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
            assertThatThrownBy(() -> lines.call(endpoint, "waits", FOREVER))
                    .isInstanceOf(RpcTimeoutException.class)
                    .hasMessageContaining("No connection to " + endpoint + " became free within the call timeout of PT2562047788015215H30M7S");
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
    void aDrainTimeoutTooLongForTheClockIsRefusedByBuildNamingTheSetting() {
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64)).drainTimeout(FOREVER).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("drainTimeout must be at most PT2562047H47M16.854775807S, but was PT2562047788015215H30M7S");
        assertThatThrownBy(() -> RpcClient.builder(LineCodec.utf8(64)).retirement(Retirement.awaitPeer(FOREVER)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("retirement drainTimeout must be at most PT2562047H47M16.854775807S, but was PT2562047788015215H30M7S");
    }
}
