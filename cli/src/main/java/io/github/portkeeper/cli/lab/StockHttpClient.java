package io.github.portkeeper.cli.lab;

import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.core5.http.EndpointDetails;
import org.apache.hc.core5.http.io.entity.EntityUtils;

import java.io.IOException;
import java.net.URI;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Apache HttpClient 5 exactly as most services create it: {@code HttpClients.createDefault()},
 * whose pool keeps at most 5 connections per route and 25 in all.
 */
final class StockHttpClient implements LabClient {

    /** {@code PoolingHttpClientConnectionManager}'s default per-route limit. */
    static final int DEFAULT_MAX_PER_ROUTE = 5;

    private final CloseableHttpClient client = HttpClients.createDefault();
    private final URI uri;
    private final AtomicLong connectionsOpened = new AtomicLong();

    StockHttpClient(URI uri) {
        this.uri = uri;
    }

    /**
     * Connections the client opened: requests that were the first on their connection, as
     * HttpClient's own connection metrics say (read while the connection is still leased).
     */
    long connectionsOpened() {
        return connectionsOpened.get();
    }

    @Override
    public void get() throws IOException {
        HttpClientContext context = HttpClientContext.create();
        int status = client.execute(new HttpGet(uri), context, response -> {
            EntityUtils.consume(response.getEntity());
            EndpointDetails connection = context.getEndpointDetails();
            if (connection != null && connection.getRequestCount() == 1) {
                connectionsOpened.incrementAndGet();
            }
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
}
