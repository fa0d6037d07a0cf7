package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.io.HttpClientConnectionManager;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.pool.PoolReusePolicy;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link PortkeeperConnectionManagerBuilder} takes what HttpClient's
 * {@code PoolingHttpClientConnectionManagerBuilder} takes: {@code null} for a default
 * configuration means that default, so code migrating keeps working.
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
}
