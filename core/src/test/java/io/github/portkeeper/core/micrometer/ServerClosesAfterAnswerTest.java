package io.github.portkeeper.core.micrometer;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import io.github.portkeeper.test.TimeWaitCount;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A server that closes after its answer (the server-closes-first case the pool exists for) while
 * the client reads to the end of stream: the connection ends {@link Ending#PEER}, leaves no
 * TIME_WAIT here, and every request it served counts in {@code timewait.avoided}. An end of
 * stream before any byte of an answer is a request that failed: not credited.
 */
class ServerClosesAfterAnswerTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void aServerThatClosesAfterEachAnswerReadToEndOfStreamLeavesNoTimeWaitAndEveryRequestCountsAsAvoided() throws IOException {
        TallyListener tally = new TallyListener();
        try (ScriptedServer server = ScriptedServer.builder().closeAfterResponses(1).start();
             SocketPool sockets = SocketPool.builder()
                     .poolConfig(PoolConfig.builder().name("server-closes").listener(tally).build()).build()) {
            PoolMetrics metrics = new PoolMetrics(sockets.pool());
            metrics.bindTo(new SimpleMeterRegistry());
            TimeWaitCount timeWait = TimeWaitCount.toward(server.address());

            int requests = 10;
            for (int i = 0; i < requests; i++) {
                try (Socket s = sockets.socket(server.host(), server.port())) {
                    assertThat(ScriptedServer.exchange(s, i)).isEqualTo(i + 1);
                    assertThat(s.getInputStream().read()).as("the server closed after its answer").isEqualTo(-1);
                }
            }
            await().atMost(WAIT).until(() -> tally.closedTotal() == requests);

            assertThat(metrics.timeWaitCaused()).isZero();
            assertThat(timeWait.newSince()).as("client TIME_WAIT: " + Kernel.describe(server.address())).isZero();
            assertThat(metrics.timeWaitAvoided()).as("avoided after %d requests served", requests).isEqualTo(requests);
            assertThat(tally.closedEvents()).as("how the connections ended")
                    .allSatisfy(c -> assertThat(c.ending()).isEqualTo(Ending.PEER))
                    .allSatisfy(c -> assertThat(c.reason()).isEqualTo(CloseReason.PEER_CLOSED));
            assertThat(sockets.pool().stats().active()).isZero();
        }
    }

    @Test
    void anEndOfStreamBeforeAnyByteOfTheAnswerIsAFailedRequestAndAddsNothingToAvoided() throws IOException {
        TallyListener tally = new TallyListener();
        try (ScriptedServer server = ScriptedServer.builder().closeOnGoodbye("QUIT").start();
             SocketPool sockets = SocketPool.builder()
                     .poolConfig(PoolConfig.builder().name("no-answer").listener(tally).build()).build()) {
            PoolMetrics metrics = new PoolMetrics(sockets.pool());
            metrics.bindTo(new SimpleMeterRegistry());

            try (Socket s = sockets.socket(server.host(), server.port())) {
                assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            }
            try (Socket s = sockets.socket(server.host(), server.port())) {
                // The reused connection's request gets no answer, only the server's FIN.
                s.getOutputStream().write("QUIT".getBytes(StandardCharsets.US_ASCII));
                assertThat(s.getInputStream().read()).isEqualTo(-1);
            }
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);

            assertThat(tally.reused()).isEqualTo(1);
            assertThat(tally.closedEvents()).singleElement().satisfies(c -> {
                assertThat(c.ending()).isEqualTo(Ending.PEER);
                assertThat(c.reason()).isEqualTo(CloseReason.BROKEN);
            });
            assertThat(metrics.timeWaitAvoided()).as("one request was answered").isEqualTo(1);
        }
    }
}
