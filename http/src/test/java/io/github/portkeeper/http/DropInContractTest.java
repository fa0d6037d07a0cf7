package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.UnsupportedSchemeException;
import org.apache.hc.client5.http.auth.AuthScope;
import org.apache.hc.client5.http.auth.UsernamePasswordCredentials;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.auth.BasicCredentialsProvider;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.ConnectionHolder;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The promises {@code PoolingHttpClientConnectionManager} keeps, kept by ours when it is set on
 * the user's own {@code HttpClientBuilder}: timeouts on reused connections, user tokens,
 * reconnecting a closed endpoint, keep-alive durations. Real loopback servers throughout.
 */
class DropInContractTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private PortkeeperConnectionManager manager(PortkeeperConnectionManagerBuilder b, String name) {
        return leaks.track(b.setPoolConfig(PoolConfig.builder().name(name).build()).build());
    }

    private static String get(CloseableHttpClient client, String url, HttpClientContext context) throws Exception {
        return client.execute(new HttpGet(url), context, r -> EntityUtils.toString(r.getEntity()));
    }

    @Test
    void aLeaseForARouteWhoseProxySchemeHttpClientDoesNotSupportFailsWithUnsupportedSchemeException() {
        // HttpClient's route planner refuses a request with such a scheme before any manager sees
        // it, and a route refuses a target without a port; a route built by hand through such a
        // proxy, without a port, reaches the manager, which has no port to pool it under.
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder(), "unsupported-scheme");
        HttpRoute route = new HttpRoute(new HttpHost("http", "127.0.0.1", 9), new HttpHost("ftp", "127.0.0.1", -1));

        assertThatThrownBy(() -> manager.lease("ex-1", route, Timeout.ofSeconds(1), null).get(Timeout.ofSeconds(1)))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(UnsupportedSchemeException.class)
                .hasMessage("ftp protocol is not supported");
        assertThat(manager.getTotalStats().getLeased()).isZero();
    }

    @Test
    void soTimeoutFromSocketConfigStillCutsOffASlowResponseOnAReusedConnection() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> r.target().equals("/slow") ? Reply.ok("late", "").after(Duration.ofMillis(2500)) : Reply.ok("fast", ""))
                .start());
        leaks.track(server.address());
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setDefaultSocketConfig(SocketConfig.custom().setSoTimeout(Timeout.ofSeconds(1)).build()), "so-timeout");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries().build());

        assertThat(get(client, server.url("/fast"), HttpClientContext.create())).isEqualTo("fast");
        long start = System.nanoTime();
        assertThatThrownBy(() -> get(client, server.url("/slow"), HttpClientContext.create()))
                .isInstanceOf(SocketTimeoutException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(2400));
        assertThat(server.acceptedPorts()).as("the slow request went out on the reused connection").hasSize(1);
    }

    @Test
    void reusedEndpointHasTheSocketTimeoutItWasConnectedWith() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().start());
        leaks.track(server.address());
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setDefaultSocketConfig(SocketConfig.custom().setSoTimeout(Timeout.ofMilliseconds(1234)).build()), "endpoint-timeout");
        HttpRoute route = new HttpRoute(new HttpHost("http", "127.0.0.1", server.port()));
        HttpClientContext context = HttpClientContext.create();

        ConnectionEndpoint first = manager.lease("1", route, Timeout.ofSeconds(5), null).get(Timeout.ofSeconds(5));
        manager.connect(first, null, context);
        first.setSocketTimeout(Timeout.ofSeconds(30)); // an exchange's own timeout, as HttpClient sets it
        manager.release(first, null, TimeValue.NEG_ONE_MILLISECOND);
        ConnectionEndpoint second = manager.lease("2", route, Timeout.ofSeconds(5), null).get(Timeout.ofSeconds(5));
        try {
            assertThat(second.isConnected()).as("reused").isTrue();
            // HttpClient's own (internal) view of the endpoint's connection, as its tests use it.
            assertThat(((ConnectionHolder) second).get().getSocketTimeout()).isEqualTo(Timeout.ofMilliseconds(1234));
        } finally {
            manager.release(second, null, TimeValue.NEG_ONE_MILLISECOND);
        }
    }

    @Test
    void connectionGivenBackWithAUserTokenServesOnlyThatUser() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().start());
        leaks.track(server.address());
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder(), "user-token");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .setUserTokenHandler((route, context) -> context.getAttribute("user")).build());

        HttpClientContext alice = HttpClientContext.create();
        alice.setAttribute("user", "alice");
        get(client, server.url("/a1"), alice); // leased with no token, given back as alice's
        HttpClientContext anonymous = HttpClientContext.create();
        get(client, server.url("/anon"), anonymous);
        HttpClientContext bob = HttpClientContext.create();
        bob.setAttribute("user", "bob");
        get(client, server.url("/b1"), bob);
        get(client, server.url("/a2"), alice);

        List<ScriptedHttpServer.Request> requests = server.requests();
        int alicePort = requests.get(0).clientPort();
        assertThat(requests.get(1).clientPort()).as("a request without a user token on alice's connection").isNotEqualTo(alicePort);
        assertThat(requests.get(2).clientPort()).as("bob's request on alice's connection").isNotEqualTo(alicePort);
        assertThat(requests.get(3).clientPort()).as("alice's next request reuses her connection").isEqualTo(alicePort);
    }

    @Test
    void leaseWithoutATimeoutServesAConnectionGivenBackWithAStateOnlyToThatState() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().start());
        leaks.track(server.address());
        PortkeeperConnectionManager manager = leaks.closeAfter(manager(PortkeeperConnectionManager.builder(), "lease-state"));
        HttpRoute route = new HttpRoute(new HttpHost("http", "127.0.0.1", server.port()));

        ConnectionEndpoint first = manager.lease("1", route, null).get(Timeout.ofSeconds(5));
        manager.connect(first, null, HttpClientContext.create());
        manager.release(first, "alice", TimeValue.NEG_ONE_MILLISECOND);
        for (Object other : new Object[] {null, "bob"}) {
            ConnectionEndpoint e = manager.lease("other", route, other).get(Timeout.ofSeconds(5));
            try {
                assertThat(e.isConnected()).as("state %s gets a new endpoint, not alice's connection", other).isFalse();
            } finally {
                manager.release(e, null, null);
            }
        }
        ConnectionEndpoint again = manager.lease("2", route, "alice").get(Timeout.ofSeconds(5));
        try {
            assertThat(again.isConnected()).as("alice's connection, reused").isTrue();
        } finally {
            manager.release(again, "alice", TimeValue.NEG_ONE_MILLISECOND);
        }
        // No request went out: the server's accept may still be on its way when connect returns.
        await().atMost(Duration.ofSeconds(5)).until(() -> !server.acceptedPorts().isEmpty());
        assertThat(server.acceptedPorts()).as("connections accepted").hasSize(1);
    }

    @Test
    void unauthorizedWithConnectionCloseIsRetriedWithCredentialsOnANewConnection() throws Exception {
        String challenge = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\nConnection: close\r\n"
                + "Content-Type: text/plain\r\nContent-Length: 26\r\n\r\nnot for you, not this time";
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> r.header("authorization") == null
                        ? new Reply(challenge.getBytes(StandardCharsets.US_ASCII), Duration.ZERO, true)
                        : Reply.ok("welcome", ""))
                .start());
        leaks.track(server.address());
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder(), "auth-close");
        BasicCredentialsProvider credentials = new BasicCredentialsProvider();
        credentials.setCredentials(new AuthScope(null, -1), new UsernamePasswordCredentials("u", "p".toCharArray()));
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .setDefaultCredentialsProvider(credentials).build());

        assertThat(get(client, server.url("/secret"), HttpClientContext.create())).isEqualTo("welcome");
        assertThat(server.acceptedPorts()).as("the authenticated retry went out on a new connection").hasSize(2);
        assertThat(server.requests()).hasSize(2);
    }

    @Test
    void keepAliveOfZeroMeansReuseWithoutTimeLimitAndNullMeansDoNotReuse() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().start());
        leaks.track(server.address());
        CloseableHttpClient forever = leaks.closeAfter(HttpClients.custom()
                .setConnectionManager(manager(PortkeeperConnectionManager.builder(), "keep-alive-zero"))
                .setKeepAliveStrategy((response, context) -> TimeValue.ZERO_MILLISECONDS).build());
        get(forever, server.url("/1"), HttpClientContext.create());
        get(forever, server.url("/2"), HttpClientContext.create());
        assertThat(server.acceptedPorts()).as("keep-alive 0 = reuse indefinitely").hasSize(1);

        CloseableHttpClient never = leaks.closeAfter(HttpClients.custom()
                .setConnectionManager(manager(PortkeeperConnectionManager.builder(), "keep-alive-null"))
                .setKeepAliveStrategy((response, context) -> null).build());
        get(never, server.url("/3"), HttpClientContext.create());
        get(never, server.url("/4"), HttpClientContext.create());
        assertThat(server.acceptedPorts()).as("keep-alive null = do not reuse").hasSize(3);
    }

    @Test
    void serverKeepAliveTimeoutIsHonouredWithTheUsersOwnHttpClientBuilder() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().keepAliveTimeoutHeader(7).start());
        leaks.track(server.address());
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder(), "keep-alive-header");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());

        get(client, server.url("/"), HttpClientContext.create());

        assertThat(manager.pool().endpoints()).hasSize(1);
        assertThat(manager.pool().serverIdleTimeout(manager.pool().endpoints().iterator().next()))
                .contains(Duration.ofSeconds(7));
    }

    @Test
    void aGarbageLineBeforeTheStatusLineIsSkippedAsHttpClientsOwnManagerSkipsIt() throws Exception {
        // Some servers put a stray line (a debug print, a CRLF left from the previous body)
        // before the status line. HttpClient's own manager parses responses leniently and skips
        // such lines; a drop-in must read the same response.
        byte[] reply = ("debug: handler start\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .getBytes(StandardCharsets.US_ASCII);
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> new Reply(reply, Duration.ZERO, false)).start());
        leaks.track(server.address());
        CloseableHttpClient stock = leaks.closeAfter(HttpClients.createDefault());
        CloseableHttpClient ours = leaks.closeAfter(HttpClients.custom()
                .setConnectionManager(manager(PortkeeperConnectionManager.builder(), "lenient-parse")).build());

        assertThat(get(stock, server.url("/stock"), HttpClientContext.create())).isEqualTo("ok");
        assertThat(get(ours, server.url("/ours"), HttpClientContext.create())).isEqualTo("ok");
        assertThat(get(ours, server.url("/ours-again"), HttpClientContext.create())).isEqualTo("ok");
        assertThat(server.requests("GET")).hasSize(3);
    }
}
