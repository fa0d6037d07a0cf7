package io.github.portkeeper.http;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.AuthenticatingProxy;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.test.TallyListener;
import org.apache.hc.client5.http.auth.AuthScope;
import org.apache.hc.client5.http.auth.UsernamePasswordCredentials;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.auth.BasicCredentialsProvider;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.client5.http.ssl.HostnameVerificationPolicy;
import org.apache.hc.client5.http.ssl.NoopHostnameVerifier;
import org.apache.hc.client5.http.ssl.TrustAllStrategy;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.ssl.SSLContexts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetSocketAddress;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.ok;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Through a proxy that demands credentials and closes after its 407, as
 * {@code PoolingHttpClientConnectionManager} does: HttpClient's retry with credentials goes out on
 * a new connection (closing the endpoint disconnected it), never on the connection the proxy asked
 * to close; an authenticated {@code CONNECT} tunnel is then pooled and reused.
 */
class ProxyTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private AuthenticatingProxy proxy() throws Exception {
        AuthenticatingProxy proxy = new AuthenticatingProxy("u", "p");
        leaks.track(proxy.address());
        return proxy;
    }

    /**
     * A client through {@code proxy}; the proxy is closed first after the test, so the pool sees
     * the proxy's close of its idle connections instead of waiting for it.
     */
    private CloseableHttpClient client(PortkeeperConnectionManager manager, AuthenticatingProxy proxy) {
        InetSocketAddress at = proxy.address();
        BasicCredentialsProvider credentials = new BasicCredentialsProvider();
        credentials.setCredentials(new AuthScope(at.getHostString(), at.getPort()), new UsernamePasswordCredentials("u", "p".toCharArray()));
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .setProxy(new HttpHost("http", at.getHostString(), at.getPort()))
                .setDefaultCredentialsProvider(credentials).build());
        leaks.closeAfter(proxy);
        return client;
    }

    @Test
    void proxiedRequestIsRetriedWithCredentialsOnANewConnectionAfterA407WithConnectionClose() throws Exception {
        AuthenticatingProxy proxy = proxy();
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("proxy-plain").build()).build());
        CloseableHttpClient client = client(manager, proxy);

        String body = client.execute(new HttpGet("http://target.invalid/page"), r -> EntityUtils.toString(r.getEntity()));

        assertThat(body).isEqualTo("proxied http://target.invalid/page");
        assertThat(proxy.requestsAfterClose()).as("requests sent on the connection the proxy closed").isEmpty();
        assertThat(proxy.connections()).as("%s", proxy.connections()).hasSize(2);
    }

    @Test
    void connectTunnelIsAuthenticatedOnANewConnectionThenPooledAndReused() throws Exception {
        WireMockServer target = new WireMockServer(options().dynamicPort().dynamicHttpsPort().bindAddress("127.0.0.1"));
        target.start();
        leaks.closeAfter(target::stop);
        target.stubFor(get("/secure").willReturn(ok("secret")));
        AuthenticatingProxy proxy = proxy();
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("proxy-connect").listener(tally).build())
                // Trusts WireMock's self-signed certificate; for this test only.
                .setTlsSocketStrategy(new DefaultClientTlsStrategy(
                        SSLContexts.custom().loadTrustMaterial(TrustAllStrategy.INSTANCE).build(),
                        HostnameVerificationPolicy.CLIENT, NoopHostnameVerifier.INSTANCE))
                .build());
        CloseableHttpClient client = client(manager, proxy);
        String url = "https://127.0.0.1:" + target.httpsPort() + "/secure";

        for (int i = 0; i < 3; i++) {
            HttpClientContext context = HttpClientContext.create();
            String body = client.execute(new HttpGet(url), context, r -> EntityUtils.toString(r.getEntity()));
            assertThat(body).isEqualTo("secret");
            assertThat(context.getSSLSession()).as("TLS inside the tunnel").isNotNull();
        }

        assertThat(proxy.requestsAfterClose()).as("requests sent on the connection the proxy closed").isEmpty();
        assertThat(proxy.connections()).as("%s", proxy.connections()).hasSize(2);
        assertThat(proxy.connections().get(1).requestLines()).as("the tunnel's connection")
                .containsExactly("CONNECT 127.0.0.1:" + target.httpsPort() + " HTTP/1.1");
        assertThat(tally.reused()).as("requests that reused the pooled tunnel").isEqualTo(2);
    }
}
