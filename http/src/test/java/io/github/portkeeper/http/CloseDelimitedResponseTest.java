package io.github.portkeeper.http;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import io.github.portkeeper.http.testing.TestCertificate;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A response whose body ends with the connection ({@code HTTP/1.1}, neither a length nor chunks,
 * no {@code Connection: close}): the server closes to end it, so its FIN comes first, and the
 * pool leaves the close to it (PEER, credited in {@code timewait.avoided}) instead of resetting
 * a connection whose end it has already read.
 */
class CloseDelimitedResponseTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    /** Generous: a loaded two-core machine. */
    private static final Duration PROMPTLY = Duration.ofSeconds(10);

    private static final byte[] CLOSE_DELIMITED = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody"
            .getBytes(StandardCharsets.ISO_8859_1);

    @Test
    void aBodyEndedByTheServersCloseEndsTheConnectionByThePeer() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> new Reply(CLOSE_DELIMITED, Duration.ZERO, true)).start());
        getsTheBodyAndEndsByThePeer(server, PortkeeperConnectionManager.builder(), "close-delimited");
    }

    @Test
    void overTlsABodyEndedByTheServersBareFinEndsTheConnectionByThePeer() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().tls()
                .responder(r -> new Reply(CLOSE_DELIMITED, Duration.ZERO, true)).start());
        getsTheBodyAndEndsByThePeer(server, PortkeeperConnectionManager.builder()
                .setTlsSocketStrategy(TestCertificate.trustingClientTls()), "close-delimited-tls");
    }

    @Test
    void overTlsABodyEndedByTheServersCloseNotifyAndFinEndsTheConnectionByThePeer() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().tlsWithCloseNotify()
                .responder(r -> new Reply(CLOSE_DELIMITED, Duration.ZERO, true)).start());
        getsTheBodyAndEndsByThePeer(server, PortkeeperConnectionManager.builder()
                .setTlsSocketStrategy(TestCertificate.trustingClientTls()), "close-delimited-close-notify");
    }

    private void getsTheBodyAndEndsByThePeer(ScriptedHttpServer server, PortkeeperConnectionManagerBuilder builder,
                                             String name) throws Exception {
        leaks.track(server.address());
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(leaks.closeAfter(builder
                .setPoolConfig(PoolConfig.builder().name(name).listener(tally).build()).build()));
        PoolMetrics metrics = new PoolMetrics(manager.pool());
        metrics.bindTo(new SimpleMeterRegistry());
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .disableAutomaticRetries().build());

        String body = client.execute(new HttpGet(server.url("/")), r -> EntityUtils.toString(r.getEntity()));

        assertThat(body).isEqualTo("body");
        await().atMost(PROMPTLY).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closedEvents()).extracting(TallyListener.Closed::ending).containsExactly(Ending.PEER);
        assertThat(metrics.timeWaitAvoided()).as("timewait.avoided").isEqualTo(1);
        assertThat(Kernel.clientTimeWait(server.address())).as(() -> Kernel.describe(server.address())).isZero();
    }
}
