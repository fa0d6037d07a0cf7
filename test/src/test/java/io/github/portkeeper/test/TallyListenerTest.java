package io.github.portkeeper.test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@link TallyListener} counts what the Micrometer meters count. */
class TallyListenerTest {

    @Test
    void aFailedConnectCountsAsAConnectionEndedFailedAsTheClosedByFailedMeterCountsIt() throws IOException {
        int closedPort;
        try (ServerSocket gone = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = gone.getLocalPort(); // nothing listens there once closed: every connect is refused
        }
        TallyListener tally = new TallyListener();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (SocketPool sockets = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally).build()).build()) {
            new PoolMetrics(sockets.pool()).bindTo(registry);
            for (int i = 0; i < 3; i++) {
                assertThatThrownBy(() -> sockets.socket("127.0.0.1", closedPort)).isInstanceOf(IOException.class);
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> closedByFailed(registry) >= 3 && tally.connectFailed() >= 3);

            assertThat(tally.closed(Ending.FAILED)).as("%s", tally).isEqualTo(closedByFailed(registry));
            assertThat(tally.connectFailed()).isEqualTo(closedByFailed(registry));
            assertThat(tally.opened()).isZero();
            assertThat(tally.closedTotal()).as("connections opened and closed").isZero();
        }
    }

    private static long closedByFailed(SimpleMeterRegistry registry) {
        return (long) registry.find("portkeeper.connections.closed").tag("closed.by", "failed").counters().stream()
                .mapToDouble(Counter::count).sum();
    }
}
