package io.github.portkeeper.http.internal;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.io.CloseMode;

import java.nio.channels.SocketChannel;

/**
 * Creates unbound HttpClient connections for the pool. The socket is opened later, by
 * HttpClient's own connection operator when the exec chain asks the manager to connect, so
 * proxies, TLS and DNS stay HttpClient's business.
 */
public final class HttpConnector implements Connector<HttpConnection> {

    private final Http1Config http1Config;

    public HttpConnector(Http1Config http1Config) {
        this.http1Config = http1Config;
    }

    @Override
    public HttpConnection connect(Endpoint endpoint) {
        return new HttpConnection(new PortkeeperManagedConnection(http1Config));
    }

    @Override
    public SocketChannel channel(HttpConnection connection) {
        return connection.conn.channel();
    }

    @Override
    public boolean wasEstablished(HttpConnection connection) {
        return connection.used;
    }

    @Override
    public Ending endingWithoutChannel(HttpConnection connection) {
        return connection.conn.endingWithoutChannel();
    }

    /** HTTP/1.1 can ask the server to close on a last request: {@code Connection: close}. */
    @Override
    public boolean supportsLastUse() {
        return true;
    }

    @Override
    public void dispose(HttpConnection connection) {
        // The pool has already closed the socket (or never had one); this releases HttpClient's buffers.
        connection.conn.close(CloseMode.IMMEDIATE);
    }
}
