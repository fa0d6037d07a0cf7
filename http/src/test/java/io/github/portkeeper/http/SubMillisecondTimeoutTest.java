package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.SilentServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.core5.http.ConnectionRequestTimeoutException;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * A positive timeout under 1 ms is a timeout, not "no timeout": HttpClient hands timeouts to the
 * socket in whole milliseconds, truncated, and 0 would wait forever. The manager applies such a
 * timeout as 1 ms, and waits for a pooled connection to the nanosecond. Where the old behaviour
 * would hang, the test is bounded.
 */
class SubMillisecondTimeoutTest {

    private static final Timeout HALF_A_MILLISECOND = Timeout.of(500, TimeUnit.MICROSECONDS);
    private static final Duration BOUND = Duration.ofSeconds(10);

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private ScriptedHttpServer slowServer() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> Reply.ok("late", "").after(Duration.ofMillis(2500)))
                .start());
        leaks.track(server.address());
        return server;
    }

    private PortkeeperConnectionManager manager(PortkeeperConnectionManagerBuilder b, String name) {
        return leaks.track(b.setPoolConfig(PoolConfig.builder().name(name).build()).build());
    }

    private static String get(CloseableHttpClient client, String url) throws Exception {
        return client.execute(new HttpGet(url), r -> EntityUtils.toString(r.getEntity()));
    }

    @Test
    void aLeaseTimeoutUnderOneMillisecondTimesOutInsteadOfWaitingForever() throws Exception {
        PortkeeperHttpClients.Builder b = PortkeeperHttpClients.custom().poolConfig(PoolConfig.builder().name("sub-ms-lease")
                .maxPerEndpoint(1).maxTotal(1).leaseTimeout(Duration.ofNanos(500_000)).build());
        PortkeeperConnectionManager manager = leaks.track(b.connectionManager());
        CloseableHttpClient client = leaks.closeAfter(b.build());
        HttpRoute route = new HttpRoute(new HttpHost("http", "127.0.0.1", 9));
        ConnectionEndpoint held = manager.lease("held", route, Timeout.ofSeconds(5), null).get(Timeout.ofSeconds(5));
        try {
            assertTimeoutPreemptively(BOUND, () -> assertThatThrownBy(() -> get(client, "http://127.0.0.1:9/"))
                    .isInstanceOf(ConnectionRequestTimeoutException.class));
        } finally {
            manager.release(held, null, null);
        }
    }

    @Test
    void aSoTimeoutUnderOneMillisecondCutsOffASlowResponse() throws Exception {
        ScriptedHttpServer server = slowServer();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setDefaultSocketConfig(SocketConfig.custom().setSoTimeout(HALF_A_MILLISECOND).build()), "sub-ms-so-timeout");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries().build());

        assertThatThrownBy(() -> get(client, server.url("/slow"))).isInstanceOf(SocketTimeoutException.class);
    }

    @Test
    void aConnectionSocketTimeoutUnderOneMillisecondCutsOffASlowResponse() throws Exception {
        ScriptedHttpServer server = slowServer();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setDefaultConnectionConfig(ConnectionConfig.custom().setSocketTimeout(HALF_A_MILLISECOND).build()),
                "sub-ms-socket-timeout");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries().build());

        assertThatThrownBy(() -> get(client, server.url("/slow"))).isInstanceOf(SocketTimeoutException.class);
    }

    @Test
    void aResponseTimeoutUnderOneMillisecondCutsOffASlowResponse() throws Exception {
        ScriptedHttpServer server = slowServer();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder(), "sub-ms-response-timeout");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries()
                .setDefaultRequestConfig(RequestConfig.custom().setResponseTimeout(HALF_A_MILLISECOND).build()).build());

        assertThatThrownBy(() -> get(client, server.url("/slow"))).isInstanceOf(SocketTimeoutException.class);
    }

    @Test
    void aHandshakeTimeoutUnderOneMillisecondGivesUpOnASilentTlsServer() throws Exception {
        SilentServer silent = leaks.closeAfter(SilentServer.start()); // never answers the ClientHello
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setDefaultTlsConfig(TlsConfig.custom().setHandshakeTimeout(HALF_A_MILLISECOND).build()), "sub-ms-handshake");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries().build());

        assertTimeoutPreemptively(BOUND, () -> assertThatThrownBy(() -> get(client, "https://127.0.0.1:" + silent.port() + "/"))
                .isInstanceOf(SocketTimeoutException.class));
        assertThat(manager.pool().stats().active()).isZero();
    }

    @Test
    void zeroStillMeansNoTimeout() throws Exception {
        ScriptedHttpServer server = slowServer();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setDefaultSocketConfig(SocketConfig.custom().setSoTimeout(Timeout.DISABLED).build())
                .setDefaultConnectionConfig(ConnectionConfig.custom().setSocketTimeout(Timeout.DISABLED)
                        .setTimeToLive(TimeValue.NEG_ONE_MILLISECOND).build()), "zero-timeouts");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries().build());

        assertThat(get(client, server.url("/slow"))).isEqualTo("late");
    }
}
