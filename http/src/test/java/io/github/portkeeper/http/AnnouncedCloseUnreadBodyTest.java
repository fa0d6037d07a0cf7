package io.github.portkeeper.http;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import io.github.portkeeper.test.TallyListener;
import org.apache.hc.client5.http.auth.AuthScope;
import org.apache.hc.client5.http.auth.UsernamePasswordCredentials;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.auth.BasicCredentialsProvider;
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
 * A response that announces the server's close and whose body nobody opens (an empty body, which
 * HttpClient releases without reading; a challenge HttpClient answers on a new connection without
 * reading it): the connection is left for the server to close, ending {@code PEER}, never reset.
 */
class AnnouncedCloseUnreadBodyTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    @Test
    void anAnnouncedCloseResponseWithAnEmptyBodyEndsByTheServersClose() throws Exception {
        byte[] reply = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> new Reply(reply, Duration.ZERO, true)).start());
        leaks.track(server.address());
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(leaks.closeAfter(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("announced-close-empty").listener(tally).build()).build()));
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .disableAutomaticRetries().build());

        int code = client.execute(new HttpGet(server.url("/empty")), r -> r.getCode());

        assertThat(code).isEqualTo(200);
        await().atMost(Duration.ofSeconds(20)).until(() -> tally.closedEvents().size() == 1);
        assertThat(tally.closedEvents()).as("how the connection ended").extracting(TallyListener.Closed::ending).containsExactly(Ending.PEER);
    }

    @Test
    void aChallengeThatAnnouncesTheServersCloseEndsByTheServersCloseWhileTheRetryGoesOutOnANewConnection() throws Exception {
        String challenge = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\nConnection: close\r\n"
                + "Content-Type: text/plain\r\nContent-Length: 26\r\n\r\nnot for you, not this time";
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> r.header("authorization") == null
                        ? new Reply(challenge.getBytes(StandardCharsets.US_ASCII), Duration.ZERO, true)
                        : Reply.ok("welcome", ""))
                .start());
        leaks.track(server.address());
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(leaks.closeAfter(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("announced-close-challenge").listener(tally).build()).build()));
        BasicCredentialsProvider credentials = new BasicCredentialsProvider();
        credentials.setCredentials(new AuthScope(null, -1), new UsernamePasswordCredentials("u", "p".toCharArray()));
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .setDefaultCredentialsProvider(credentials).build());

        String body = client.execute(new HttpGet(server.url("/secret")), r -> EntityUtils.toString(r.getEntity()));

        assertThat(body).isEqualTo("welcome");
        await().atMost(Duration.ofSeconds(20)).until(() -> tally.closedEvents().size() == 1);
        assertThat(tally.closedEvents()).as("how the challenged connection ended").extracting(TallyListener.Closed::ending)
                .containsExactly(Ending.PEER);
    }
}
