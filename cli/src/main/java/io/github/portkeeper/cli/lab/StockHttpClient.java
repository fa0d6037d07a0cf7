package io.github.portkeeper.cli.lab;

import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.ManagedHttpClientConnectionFactory;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.io.ManagedHttpClientConnection;
import org.apache.hc.core5.http.io.HttpConnectionFactory;
import org.apache.hc.core5.http.io.entity.EntityUtils;

import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Apache HttpClient 5 as most services create it: the defaults of {@code HttpClients.createDefault()},
 * whose pool keeps at most 5 connections per route and 25 in all. The one addition is a
 * connection factory that counts the connections the pool creates (it delegates to HttpClient's
 * own), so "connections opened" counts the same connections as the kernel's figures.
 */
final class StockHttpClient implements LabClient {

    /** {@code PoolingHttpClientConnectionManager}'s default per-route limit. */
    static final int DEFAULT_MAX_PER_ROUTE = 5;

    private final AtomicLong connectionsOpened = new AtomicLong();
    private final CloseableHttpClient client = HttpClients.custom()
            .setConnectionManager(PoolingHttpClientConnectionManagerBuilder.create()
                    .setConnectionFactory(new CountingConnectionFactory(connectionsOpened))
                    .build())
            .build();
    private final URI uri;

    StockHttpClient(URI uri) {
        this.uri = uri;
    }

    /** Connections the client's pool created, one per TCP connection it opened (or tried to). */
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

    /** HttpClient's own connection factory, counting. */
    private static final class CountingConnectionFactory implements HttpConnectionFactory<ManagedHttpClientConnection> {
        private final AtomicLong created;

        CountingConnectionFactory(AtomicLong created) {
            this.created = created;
        }

        @Override
        public ManagedHttpClientConnection createConnection(Socket socket) throws IOException {
            created.incrementAndGet();
            return ManagedHttpClientConnectionFactory.INSTANCE.createConnection(socket);
        }
    }
}
