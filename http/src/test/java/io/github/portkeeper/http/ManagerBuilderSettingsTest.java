package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.ClientHelloServer;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.SchemePortResolver;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.client5.http.impl.DefaultSchemePortResolver;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.client5.http.io.HttpClientConnectionManager;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.pool.PoolConcurrencyPolicy;
import org.apache.hc.core5.pool.PoolReusePolicy;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link PortkeeperConnectionManagerBuilder} takes what HttpClient's
 * {@code PoolingHttpClientConnectionManagerBuilder} takes, with the same meaning, so code
 * migrating keeps working: {@code null} for a default configuration means that default, 0 for a
 * limit keeps the default one, the scheme port resolver and the system properties apply. What
 * HttpClient's builder ignores silently (a negative limit) is refused.
 */
class ManagerBuilderSettingsTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private ScriptedHttpServer server() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().start());
        leaks.track(server.address());
        return server;
    }

    private static String get(CloseableHttpClient client, String url) throws Exception {
        return client.execute(new HttpGet(url), r -> EntityUtils.toString(r.getEntity()));
    }

    @Test
    void nullDefaultConfigsBuildAManagerThatServesRequestsAsHttpClientsOwnBuilderDoes() throws Exception {
        ScriptedHttpServer server = server();
        HttpClientConnectionManager stock = PoolingHttpClientConnectionManagerBuilder.create()
                .setDefaultSocketConfig(null).setDefaultConnectionConfig(null).setDefaultTlsConfig(null).build();
        HttpClientConnectionManager ours = leaks.track(PortkeeperConnectionManager.builder()
                .setDefaultSocketConfig(null).setDefaultConnectionConfig(null).setDefaultTlsConfig(null)
                .setHttp1Config(null).setPoolConfig(null).build());

        for (HttpClientConnectionManager manager : new HttpClientConnectionManager[] {stock, ours}) {
            CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());
            assertThat(get(client, server.url("/" + manager.getClass().getSimpleName()))).isEqualTo("ok");
        }
    }

    @Test
    void nullForADefaultConfigRestoresTheDefaultAfterAnEarlierValue() throws Exception {
        ScriptedHttpServer server = server();
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                // a time to live of 0 allows no reuse; null must put back the default, which does
                .setDefaultConnectionConfig(ConnectionConfig.custom().setTimeToLive(TimeValue.ZERO_MILLISECONDS).build())
                .setDefaultConnectionConfig(null)
                .setDefaultSocketConfig(SocketConfig.custom().setSoTimeout(Timeout.ofSeconds(7)).build())
                .setDefaultSocketConfig(null)
                .setDefaultTlsConfig(TlsConfig.custom().setHandshakeTimeout(Timeout.ofSeconds(7)).build())
                .setDefaultTlsConfig(null)
                .setPoolConfig(PoolConfig.builder().name("replaced").build())
                .setPoolConfig(null)
                .build());
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());

        get(client, server.url("/1"));
        get(client, server.url("/2"));

        assertThat(server.acceptedPorts()).as("the default connection config reuses connections").hasSize(1);
        assertThat(manager.getDefaultSocketConfig()).isSameAs(SocketConfig.DEFAULT);
        assertThat(manager.pool().name()).isEqualTo("http");
    }

    @Test
    void fifoIsRefusedNamingTheSettingAndTheValue() {
        assertThatThrownBy(() -> PortkeeperConnectionManager.builder().setConnPoolPolicy(PoolReusePolicy.FIFO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("connPoolPolicy must be LIFO or null (Portkeeper reuses the most recently used connection first, "
                        + "so surplus connections idle out and the server closes them), but was FIFO");
        PortkeeperConnectionManager.builder().setConnPoolPolicy(PoolReusePolicy.LIFO).setConnPoolPolicy(null);
    }

    @Test
    void negativeLimitsAreRefusedNamingTheSettingAndTheValue() {
        assertThatThrownBy(() -> PortkeeperConnectionManager.builder().setMaxConnTotal(-5))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxConnTotal must not be negative, but was -5");
        assertThatThrownBy(() -> PortkeeperConnectionManager.builder().setMaxConnPerRoute(-1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxConnPerRoute must not be negative, but was -1");
    }

    @Test
    void zeroLimitsKeepThePoolConfigurationsAsHttpClientsBuilderKeepsItsDefaults() throws Exception {
        PoolingHttpClientConnectionManager stockDefaults = leaks.closeAfter(PoolingHttpClientConnectionManagerBuilder.create().build());
        PoolingHttpClientConnectionManager stock = leaks.closeAfter(PoolingHttpClientConnectionManagerBuilder.create()
                .setMaxConnTotal(10).setMaxConnPerRoute(4).setMaxConnTotal(0).setMaxConnPerRoute(0).build());
        PortkeeperConnectionManager ours = leaks.closeAfter(leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("zero-limits").maxPerEndpoint(3).maxTotal(7).build())
                .setMaxConnTotal(10).setMaxConnPerRoute(4).setMaxConnTotal(0).setMaxConnPerRoute(0).build()));

        assertThat(stock.getMaxTotal()).isEqualTo(stockDefaults.getMaxTotal());
        assertThat(stock.getDefaultMaxPerRoute()).isEqualTo(stockDefaults.getDefaultMaxPerRoute());
        assertThat(ours.getMaxTotal()).isEqualTo(7);
        assertThat(ours.getDefaultMaxPerRoute()).isEqualTo(3);
    }

    @Test
    void aLimitSetAloneLeavesTheOtherAsConfiguredAsInHttpClientsBuilder() throws Exception {
        PoolingHttpClientConnectionManager stockDefaults = leaks.closeAfter(PoolingHttpClientConnectionManagerBuilder.create().build());
        PoolingHttpClientConnectionManager stockPerRoute = leaks.closeAfter(PoolingHttpClientConnectionManagerBuilder.create()
                .setMaxConnPerRoute(100).build());
        PoolingHttpClientConnectionManager stockTotal = leaks.closeAfter(PoolingHttpClientConnectionManagerBuilder.create()
                .setMaxConnTotal(3).build());
        PoolConfig config = PoolConfig.builder().name("one-limit").maxPerEndpoint(8).maxTotal(64).build();
        PortkeeperConnectionManager oursPerRoute = leaks.closeAfter(leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(config).setMaxConnPerRoute(100).build()));
        PortkeeperConnectionManager oursTotal = leaks.closeAfter(leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(config).setMaxConnTotal(3).build()));

        assertThat(stockPerRoute.getMaxTotal()).as("stock: the total stays below the per-route limit")
                .isEqualTo(stockDefaults.getMaxTotal());
        assertThat(stockPerRoute.getDefaultMaxPerRoute()).isEqualTo(100);
        assertThat(oursPerRoute.getMaxTotal()).as("the per-route limit does not raise the total").isEqualTo(64);
        assertThat(oursPerRoute.getDefaultMaxPerRoute()).isEqualTo(100);

        assertThat(stockTotal.getDefaultMaxPerRoute()).as("stock: the per-route limit stays above the total")
                .isEqualTo(stockDefaults.getDefaultMaxPerRoute());
        assertThat(stockTotal.getMaxTotal()).isEqualTo(3);
        assertThat(oursTotal.getDefaultMaxPerRoute()).as("the total does not cut the per-route limit").isEqualTo(8);
        assertThat(oursTotal.getMaxTotal()).isEqualTo(3);
    }

    @Test
    void aPerRouteLimitAboveTheTotalIsKeptAsInHttpClientAndTheTotalStillCaps() throws Exception {
        PoolingHttpClientConnectionManager stock = leaks.closeAfter(PoolingHttpClientConnectionManagerBuilder.create()
                .setMaxConnTotal(2).setMaxConnPerRoute(5).build());
        PortkeeperConnectionManager ours = leaks.closeAfter(leaks.track(PortkeeperConnectionManager.builder()
                .setMaxConnTotal(2).setMaxConnPerRoute(5).build()));
        // Leased and never connected: the limits count endpoints, no server is needed.
        HttpRoute route = new HttpRoute(new HttpHost("http", "127.0.0.1", 9));

        assertThat(ours.getMaxTotal()).isEqualTo(stock.getMaxTotal()).isEqualTo(2);
        assertThat(ours.getDefaultMaxPerRoute()).isEqualTo(stock.getDefaultMaxPerRoute()).isEqualTo(5);
        assertThat(ours.getMaxPerRoute(route)).isEqualTo(stock.getMaxPerRoute(route)).isEqualTo(5);
        for (HttpClientConnectionManager manager : new HttpClientConnectionManager[] {stock, ours}) {
            List<ConnectionEndpoint> held = new ArrayList<>();
            try {
                held.add(manager.lease("1", route, Timeout.ofSeconds(5), null).get(Timeout.ofSeconds(5)));
                held.add(manager.lease("2", route, Timeout.ofSeconds(5), null).get(Timeout.ofSeconds(5)));
                assertThatThrownBy(() -> manager.lease("3", route, Timeout.ofSeconds(5), null).get(Timeout.ofMilliseconds(200)))
                        .as("%s: the total of 2 caps the route", manager.getClass().getSimpleName())
                        .isInstanceOf(TimeoutException.class);
            } finally {
                for (ConnectionEndpoint e : held) {
                    manager.release(e, null, null);
                }
            }
        }
    }

    @Test
    void theSchemePortResolverGivesThePortOfAProxyWithoutOneAsInHttpClientsBuilder() throws Exception {
        // HttpClient's route planner gives every target its port, but not a proxy: a proxy host
        // without a port reaches the connection manager, whose resolver gives the port. Here the
        // resolver sends "http" without a port to the loopback server, which answers as a proxy.
        ScriptedHttpServer proxy = server();
        SchemePortResolver httpToProxy = host -> host.getPort() < 0 && "http".equals(host.getSchemeName())
                ? proxy.port() : DefaultSchemePortResolver.INSTANCE.resolve(host);
        HttpClientConnectionManager stock = PoolingHttpClientConnectionManagerBuilder.create().setSchemePortResolver(httpToProxy).build();
        PortkeeperConnectionManager ours = leaks.track(PortkeeperConnectionManager.builder().setSchemePortResolver(httpToProxy).build());

        for (HttpClientConnectionManager manager : new HttpClientConnectionManager[] {stock, ours}) {
            CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                    .setProxy(new HttpHost("http", "127.0.0.1", -1)).build());
            assertThat(get(client, "http://target.invalid/" + manager.getClass().getSimpleName())).isEqualTo("ok");
        }
        assertThat(proxy.requests()).extracting(ScriptedHttpServer.Request::target).containsExactly(
                "http://target.invalid/PoolingHttpClientConnectionManager", "http://target.invalid/PortkeeperConnectionManager");
    }

    @Test
    void useSystemPropertiesOffersTheCipherSuitesOfHttpsCipherSuitesAsHttpClientsBuilderDoes() throws Exception {
        ClientHelloServer server = leaks.closeAfter(ClientHelloServer.start());
        String url = "https://127.0.0.1:" + server.port() + "/";
        int onlySuite = 0xC02F; // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        Function<HttpClientConnectionManager, List<Integer>> offered = manager -> {
            CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                    .disableAutomaticRetries().build());
            int before = server.offeredCipherSuites().size();
            assertThatThrownBy(() -> get(client, url)).as("no server certificate: the handshake fails")
                    .isInstanceOf(IOException.class);
            List<Integer> suites = new ArrayList<>(server.offeredCipherSuites().get(before));
            suites.remove(Integer.valueOf(0x00FF)); // TLS_EMPTY_RENEGOTIATION_INFO_SCSV, a signal, not a suite
            return suites;
        };
        String previous = System.getProperty("https.cipherSuites");
        System.setProperty("https.cipherSuites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        try {
            PortkeeperConnectionManager withProperties = leaks.track(PortkeeperConnectionManager.builder().useSystemProperties().build());
            PortkeeperConnectionManager without = leaks.track(PortkeeperConnectionManager.builder().build());
            HttpClientConnectionManager stock = PoolingHttpClientConnectionManagerBuilder.create().useSystemProperties().build();

            assertThat(offered.apply(stock)).as("HttpClient's own builder").containsExactly(onlySuite);
            assertThat(offered.apply(withProperties)).containsExactly(onlySuite);
            assertThat(offered.apply(without)).as("without useSystemProperties()").contains(onlySuite).hasSizeGreaterThan(1);
        } finally {
            if (previous == null) {
                System.clearProperty("https.cipherSuites");
            } else {
                System.setProperty("https.cipherSuites", previous);
            }
        }
    }

    @Test
    void poolConcurrencyPolicyIsAcceptedForEveryValueAndNullAndChangesNothing() throws Exception {
        ScriptedHttpServer server = server();
        PoolConfig config = PoolConfig.builder().name("concurrency-policy").build();
        List<PoolConcurrencyPolicy> policies = new ArrayList<>(Arrays.asList(PoolConcurrencyPolicy.values()));
        policies.add(null); // HttpClient's builder takes null for its default, STRICT
        assertThat(policies).contains(PoolConcurrencyPolicy.STRICT, PoolConcurrencyPolicy.LAX);

        for (PoolConcurrencyPolicy policy : policies) {
            PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                    .setPoolConfig(config).setPoolConcurrencyPolicy(policy).build());
            CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());
            int accepted = server.acceptedPorts().size();

            get(client, server.url("/" + policy + "/1"));
            get(client, server.url("/" + policy + "/2"));

            assertThat(manager.pool().config()).as("%s", policy).isSameAs(config);
            assertThat(manager.getMaxTotal()).as("%s", policy).isEqualTo(config.maxTotal());
            assertThat(manager.getDefaultMaxPerRoute()).as("%s", policy).isEqualTo(config.maxPerEndpoint());
            assertThat(server.acceptedPorts()).as("%s: one connection, reused", policy).hasSize(accepted + 1);
        }
    }
}
