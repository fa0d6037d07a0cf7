package io.github.portkeeper.core.micrometer;

import io.github.portkeeper.core.CloseOwningSocketFactory;
import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.TallyListener;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * {@code timewait.avoided} of the close-owning socket factory never exceeds the requests served:
 * a socket whose exchange failed (an I/O error, or the end of stream before any byte of an answer)
 * served no request, so its close is counted as broken and credits nothing, as the pool's broken
 * connections do. Its reused lease was credited already; a client's retry on a new socket is
 * credited when that one ends.
 */
class FactoryAvoidedTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void aReusedFactorySocketTheServerResetsMidExchangeAddsNothingToAvoidedWhenClosed() throws IOException {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory factory = CloseOwningSocketFactory.builder().name("reset-mid-exchange")
                .retirement(Retirement.reset()).listener(tally).build();
        PoolMetrics metrics = PoolMetrics.of(factory);
        metrics.bindTo(new SimpleMeterRegistry());
        try (ScriptedServer server = ScriptedServer.start()) {
            Endpoint endpoint = Endpoint.of(server.host(), server.port());
            int served = 0;
            Socket s = factory.createSocket(server.host(), server.port());
            factory.recordLease(endpoint, false);
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            served++;

            factory.recordLease(endpoint, true); // the client's pool reuses it for the next request
            server.resetNextRequest();
            assertThatThrownBy(() -> ScriptedServer.exchange(s, 2)).isInstanceOf(IOException.class);
            s.close();
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);

            assertThat(metrics.timeWaitAvoided()).as("avoided after %d request(s) served", served).isLessThanOrEqualTo(served);
            assertThat(tally.closedEvents()).singleElement()
                    .satisfies(c -> assertThat(c.reason()).isEqualTo(CloseReason.BROKEN));
        }
    }

    @Test
    void aReusedFactorySocketWhoseRequestGetsOnlyTheEndOfStreamAddsNothingToAvoidedWhenClosed() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory factory = CloseOwningSocketFactory.builder().name("stale")
                .retirement(Retirement.reset()).idleWatchDelay(Duration.ofMinutes(10)).listener(tally).build();
        PoolMetrics metrics = PoolMetrics.of(factory);
        metrics.bindTo(new SimpleMeterRegistry());
        try (ScriptedServer server = ScriptedServer.builder().closeAfterResponses(1).start()) {
            Endpoint endpoint = Endpoint.of(server.host(), server.port());
            int served = 0;
            Socket s = factory.createSocket(server.host(), server.port());
            factory.recordLease(endpoint, false);
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            served++;
            server.nextEnd(WAIT); // the server closed after its answer; the client's pool does not know yet

            factory.recordLease(endpoint, true);
            assertThatThrownBy(() -> ScriptedServer.exchange(s, 2)).isInstanceOf(IOException.class);
            s.close();
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);

            assertThat(metrics.timeWaitAvoided()).as("avoided after %d request(s) served", served).isLessThanOrEqualTo(served);
            assertThat(tally.closedEvents()).singleElement()
                    .satisfies(c -> assertThat(c.reason()).isEqualTo(CloseReason.BROKEN));
        }
    }

    @Test
    void aFactorySocketReadToTheEndOfStreamAfterItsAnswerIsCreditedOnce() throws IOException {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory factory = CloseOwningSocketFactory.builder().name("server-closes")
                .idleWatchDelay(Duration.ofMinutes(10)).listener(tally).build();
        PoolMetrics metrics = PoolMetrics.of(factory);
        metrics.bindTo(new SimpleMeterRegistry());
        try (ScriptedServer server = ScriptedServer.builder().closeAfterResponses(1).start()) {
            Socket s = factory.createSocket(server.host(), server.port());
            factory.recordLease(Endpoint.of(server.host(), server.port()), false);
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            assertThat(s.getInputStream().read()).isEqualTo(-1);
            s.close();
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);

            assertThat(metrics.timeWaitAvoided()).isEqualTo(1);
            assertThat(metrics.timeWaitCaused()).isZero();
        }
    }
}
