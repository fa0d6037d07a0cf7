package io.github.portkeeper.rpc.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.portkeeper.core.Pool;
import io.github.portkeeper.test.Kernel;
import java.time.Duration;

/**
 * The rpc tests' check after each test (OkHttp's {@code ensureAllConnectionsReleased}): nothing
 * still leased from the client's pool and, where the kernel can be asked, no CLOSE_WAIT and no
 * client TIME_WAIT toward the test's server. Closes the client and the server either way.
 * Stateless.
 */
public final class Leaks {

    private Leaks() {
    }

    /**
     * Checks and closes; either argument may be {@code null} (a test that built no client, or
     * started no server).
     *
     * @param pool   the client's pool, checked for leases before {@code client} is closed
     * @param client closes the client (an {@code RpcClient}, a {@code SocketClientPool})
     * @param server the server the client talked to
     */
    public static void assertNoneAndClose(Pool<?> pool, AutoCloseable client, FrameServer server) throws Exception {
        try {
            if (client != null) {
                try {
                    assertThat(pool.stats().active()).as("leased connections").isZero();
                } finally {
                    client.close();
                }
            }
            if (server != null && Kernel.isAvailable()) {
                await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                        assertThat(Kernel.clientCloseWait(server.address())).as("CLOSE_WAIT toward the server").isZero());
                assertThat(server.clientTimeWaitSinceStart()).as("client TIME_WAIT toward the server (local ports)").isEmpty();
            }
        } finally {
            if (server != null) {
                server.close();
            }
        }
    }
}
