package io.github.portkeeper.core;

import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.core.testing.ScriptedServer.End;
import io.github.portkeeper.test.TallyListener;
import io.github.portkeeper.test.TallyListener.Closed;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A reset of an idle connection (a peer that aborts, a TCP keepalive that gives up) is an abort,
 * not the server's idle close: it ends {@link Ending#ABORTED} with {@link CloseReason#ABORTED},
 * and it never teaches the pool a server idle timeout.
 */
class IdleAbortTest {

    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Duration POLL = Duration.ofMillis(5);
    /** Long enough after going idle that a FIN at this age would be learned as the idle timeout. */
    private static final Duration RESET_AFTER_IDLE = Duration.ofMillis(300);

    private final TallyListener tally = new TallyListener();
    private ScriptedServer server;
    private SocketPool sockets;

    @AfterEach
    void nothingLeaked() {
        if (sockets == null) {
            return;
        }
        try {
            assertThat(sockets.pool().stats().active()).as("connections still leased").isZero();
            if (Kernel.isAvailable()) {
                assertThat(Kernel.clientCloseWait(server.address())).as(Kernel.describe(server.address())).isZero();
            }
        } finally {
            sockets.close();
            server.close();
        }
    }

    @Test
    void peerResetOfIdleConnectionsIsAnAbortAndTeachesNoIdleTimeout() throws IOException {
        server = ScriptedServer.builder().resetAfterIdle(RESET_AFTER_IDLE).start();
        sockets = SocketPool.builder().readTimeout(WAIT)
                .poolConfig(PoolConfig.builder().listener(tally).build()).build();
        Endpoint endpoint = Endpoint.of(server.host(), server.port());

        int rounds = 3;
        Set<Integer> ports = new HashSet<>();
        for (int round = 1; round <= rounds; round++) {
            try (Socket s = sockets.socket(endpoint)) {
                assertThat(ScriptedServer.exchange(s, round)).isEqualTo(round + 1);
                ports.add(s.getLocalPort());
            }
            int n = round;
            await().atMost(WAIT).pollInterval(POLL).until(() -> tally.closedTotal() >= n);
            Closed closed = tally.closedEvents().get(round - 1);
            // Compared by name so this test compiled against a pool that had no such ending.
            assertThat(closed.ending().name()).as("ending of a connection the peer reset while idle").isEqualTo("ABORTED");
            assertThat(closed.reason().name()).as("reason of a connection the peer reset while idle").isEqualTo("ABORTED");
            assertThat(sockets.pool().serverIdleTimeout(endpoint)).as("idle timeout learned from a reset").isEmpty();
        }
        assertThat(ports).as("a fresh connection each round").hasSize(rounds);
        // The server records its reset after sending it: the client may see it first.
        await().atMost(WAIT).pollInterval(POLL).untilAsserted(() ->
                assertThat(server.endedCount(End.SERVER_RESET)).isEqualTo(rounds));
        assertThat(tally.timeWaitCaused()).isZero();
        assertThat(tally.closed(Ending.PEER)).as("resets counted as the server's close").isZero();
        if (Kernel.isAvailable()) {
            assertThat(Kernel.clientTimeWait(server.address())).as(Kernel.describe(server.address())).isZero();
        }
    }
}
