package io.github.portkeeper.cli.lab;

import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.SchemePortResolver;
import org.apache.hc.client5.http.impl.io.DefaultHttpClientConnectionOperator;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.io.HttpClientConnectionOperator;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;
import org.apache.hc.core5.http.URIScheme;
import org.apache.hc.core5.http.config.RegistryBuilder;
import org.apache.hc.core5.http.io.entity.EntityUtils;

import java.io.IOException;
import java.net.Proxy;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.URI;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Apache HttpClient 5 as most services create it: the defaults of {@code HttpClients.createDefault()},
 * whose pool keeps at most 5 connections per route and 25 in all. The one addition counts the
 * sockets its connection operator connected, so "connections opened" counts the same connections as
 * the kernel's figures. (Its connection factory would not do: the pool creates the connection object
 * before the operator connects it, so a connect that fails would count too.)
 */
final class StockHttpClient implements LabClient {

    /** {@code PoolingHttpClientConnectionManager}'s default per-route limit. */
    static final int DEFAULT_MAX_PER_ROUTE = 5;

    private final AtomicLong connectionsOpened = new AtomicLong();
    private final CloseableHttpClient client = HttpClients.custom()
            .setConnectionManager(new CountingManagerBuilder(connectionsOpened).build())
            .build();
    private final URI uri;

    StockHttpClient(URI uri) {
        this.uri = uri;
    }

    /** TCP connections the client's pool opened: sockets whose connect succeeded. */
    long connectionsOpened() {
        return connectionsOpened.get();
    }

    @Override
    public void get() throws IOException {
        int status = client.execute(new HttpGet(uri), response -> {
            EntityUtils.consume(response.getEntity());
            return response.getCode();
        });
        if (status >= 400) {
            throw new HttpStatusException(status);
        }
    }

    @Override
    public void close() throws IOException {
        client.close();
    }

    /**
     * HttpClient's own pool and connection operator, on sockets that count their successful
     * connects. Everything else is as {@code PoolingHttpClientConnectionManagerBuilder.create()}
     * builds it.
     */
    private static final class CountingManagerBuilder extends PoolingHttpClientConnectionManagerBuilder {
        private final AtomicLong connected;

        CountingManagerBuilder(AtomicLong connected) {
            this.connected = connected;
        }

        @Override
        protected HttpClientConnectionOperator createConnectionOperator(SchemePortResolver schemePortResolver,
                                                                        DnsResolver dnsResolver,
                                                                        TlsSocketStrategy tlsSocketStrategy) {
            return new DefaultHttpClientConnectionOperator(
                    proxy -> proxy != null ? new CountingSocket(proxy, connected) : new CountingSocket(connected),
                    schemePortResolver, dnsResolver,
                    RegistryBuilder.<TlsSocketStrategy>create().register(URIScheme.HTTPS.id, tlsSocketStrategy).build());
        }
    }

    /** A plain socket that counts its connect once it has succeeded. */
    private static final class CountingSocket extends Socket {
        private final AtomicLong connected;

        CountingSocket(AtomicLong connected) {
            this.connected = connected;
        }

        CountingSocket(Proxy proxy, AtomicLong connected) {
            super(proxy);
            this.connected = connected;
        }

        @Override
        public void connect(SocketAddress endpoint, int timeout) throws IOException {
            super.connect(endpoint, timeout);
            connected.incrementAndGet();
        }
    }
}
