package io.github.portkeeper.core.micrometer;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.testing.ChannelConnector;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.core.testing.ScriptedServer.End;
import io.github.portkeeper.test.TallyListener;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code timewait.avoided} never exceeds the requests served, also when the server resets a
 * connection in the middle of a lease: the connection is discarded as broken and ends
 * {@link Ending#ABORTED}, and that ending is not credited, as a broken {@code PEER} or
 * {@code RESET} ending is not (its reused lease, already credited, served no request).
 */
class AvoidedOnResetTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void aReusedConnectionTheServerResetWhileLeasedAddsNothingToAvoided() throws IOException {
        TallyListener tally = new TallyListener();
        try (ScriptedServer server = ScriptedServer.builder().resetAfterIdle(Duration.ofMillis(200)).start();
             Pool<SocketChannel> pool = Pool.of(ChannelConnector.plain(),
                     PoolConfig.builder().name("resets").listener(tally).build())) {
            PoolMetrics metrics = new PoolMetrics(pool);
            metrics.bindTo(new SimpleMeterRegistry());
            Endpoint endpoint = Endpoint.of(server.host(), server.port());

            int served = 0;
            try (Lease<SocketChannel> first = pool.lease(endpoint)) {
                assertThat(ScriptedServer.exchange(first.connection(), 1)).isEqualTo(2);
                served++;
            }
            try (Lease<SocketChannel> reused = pool.lease(endpoint)) {
                // Held while the server resets it; its holder gives up on it without another
                // read or write (a deadline of its own passed, say): the pool's close is the
                // first to meet the reset.
                await().atMost(WAIT).until(() -> server.endedCount(End.SERVER_RESET) == 1);
                reused.markBroken();
            }
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);

            assertThat(tally.reused()).as("the second lease reused the first connection").isEqualTo(1);
            assertThat(tally.closedEvents()).as("how the connection ended")
                    .singleElement().satisfies(c -> {
                        assertThat(c.ending()).isEqualTo(Ending.ABORTED);
                        assertThat(c.reason()).isEqualTo(CloseReason.BROKEN);
                    });
            assertThat(metrics.timeWaitAvoided()).as("avoided after %d request(s) served", served).isEqualTo(served);
        }
    }
}
