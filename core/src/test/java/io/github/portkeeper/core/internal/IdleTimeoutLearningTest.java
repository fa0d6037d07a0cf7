package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.testing.ChannelConnector;
import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What the pool learns as the server's idle timeout, against a real loopback server and the
 * pool's fake ticker: the idle age of a close is the ticker's, so it is exact and no test waits
 * for it.
 */
class IdleTimeoutLearningTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Duration POLL = Duration.ofMillis(5);
    private static final Duration MAX_IDLE = Duration.ofSeconds(2);

    private final FakeTicker ticker = new FakeTicker();
    private final TallyListener tally = new TallyListener();
    private ScriptedServer server;
    private PoolEngine<SocketChannel> pool;

    @AfterEach
    void close() {
        if (pool != null) {
            assertThat(pool.stats().active()).as("connections still leased").isZero();
            pool.close();
        }
        if (server != null) {
            server.close();
        }
    }

    private Endpoint endpoint() {
        return Endpoint.of(server.host(), server.port());
    }

    private PoolConfig.Builder config(Retirement retirement) {
        return PoolConfig.builder().ticker(ticker).maxPerEndpoint(1).maxIdleTime(MAX_IDLE)
                .retirement(retirement).portBudget(PortBudget.disabled()).listener(tally);
    }

    /**
     * Under {@code REQUEST_PEER_CLOSE} (the RPC client's default) a connection retired for its
     * idle age is sent the goodbye, and the server closes it within a round trip. That FIN is
     * the answer to the goodbye, not the server's idle timeout: learned, it lowered the learned
     * timeout each cycle, until connections were retired 50 ms after use.
     */
    @Test
    void theFinOurGoodbyeProvokesIsNotLearnedAsTheServersIdleTimeout() throws Exception {
        server = ScriptedServer.builder().closeOnGoodbye("QUIT", "+OK\r\n").start(); // no idle timeout
        ChannelConnector connector = ChannelConnector.withGoodbye("QUIT");
        pool = new PoolEngine<>(connector, config(Retirement.requestPeerClose(WAIT)).build());

        int cycles = 3;
        for (int i = 1; i <= cycles; i++) {
            try (LeaseHandle<SocketChannel> lease = pool.lease(endpoint(), WAIT)) {
                assertThat(ScriptedServer.exchange(lease.connection(), i)).isEqualTo(i + 1);
            }
            ticker.advance(MAX_IDLE.plusMillis(1)); // past maxIdleTime: housekeeping retires it
            int closed = i;
            await().atMost(WAIT).pollInterval(POLL).until(() -> tally.closedTotal() == closed);
        }

        assertThat(connector.goodbyesSent()).isEqualTo(cycles);
        assertThat(tally.closedEvents()).as(tally.toString()).allSatisfy(c -> {
            assertThat(c.ending()).isEqualTo(Ending.PEER);
            assertThat(c.reason()).isEqualTo(CloseReason.IDLE_TIMEOUT);
        });
        assertThat(pool.serverIdleTimeout(endpoint()))
                .as("the idle timeout learned from a server that has none, from FINs our goodbyes asked for")
                .isEmpty();
    }

    /** A connector without a goodbye: the FIN of a connection draining for its idle age is the server's own. */
    @Test
    void withoutAGoodbyeTheServersCloseOfAnIdleRetiredConnectionIsStillLearned() throws Exception {
        server = ScriptedServer.builder().start();
        pool = new PoolEngine<>(ChannelConnector.plain(), config(Retirement.requestPeerClose(WAIT)).build());
        try (LeaseHandle<SocketChannel> lease = pool.lease(endpoint(), WAIT)) {
            assertThat(ScriptedServer.exchange(lease.connection(), 1)).isEqualTo(2);
        }
        ticker.advance(MAX_IDLE.plusMillis(1));
        await().atMost(WAIT).pollInterval(POLL).until(() -> pool.stats().draining() == 1);
        ticker.advance(Duration.ofSeconds(1)); // the server's idle timeout, 3 s and 1 ms, comes
        server.close(); // closes its side of every connection: the FIN of an idle timeout
        await().atMost(WAIT).pollInterval(POLL).until(() -> tally.closedTotal() == 1);

        assertThat(tally.closed(Ending.PEER)).as(tally.toString()).isEqualTo(1);
        assertThat(pool.serverIdleTimeout(endpoint())).hasValue(MAX_IDLE.plusSeconds(1).plusMillis(1));
    }
}
