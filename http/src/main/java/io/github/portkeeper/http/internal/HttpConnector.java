package io.github.portkeeper.http.internal;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.internal.LeaseHandle;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.io.CloseMode;

import java.nio.channels.SocketChannel;
import java.util.function.Function;

/**
 * Creates unbound HttpClient connections for the pool. The socket is opened later, by
 * HttpClient's own connection operator when the exec chain asks the manager to connect, so
 * proxies, TLS and DNS stay HttpClient's business. It therefore connects on first use: the
 * manager reports that connect's outcome (TCP connect and TLS handshake) on the lease, and the
 * pool's connect guard, listeners and meters count it, not this method's.
 */
public final class HttpConnector implements Connector<HttpConnection>, LeaseHandle.ConnectsOnFirstUse {

    private final Http1Config http1Config;
    private final Function<HttpRoute, ConnectionConfig> connectionConfigs;

    /**
     * @param http1Config       HttpClient's HTTP/1.1 settings for new connections
     * @param connectionConfigs the manager's {@link ConnectionConfig} of a route, for the reuse checks
     */
    public HttpConnector(Http1Config http1Config, Function<HttpRoute, ConnectionConfig> connectionConfigs) {
        this.http1Config = http1Config;
        this.connectionConfigs = connectionConfigs;
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

    /**
     * HttpClient's reuse checks ({@link LeaseChecks}) run here, in the pool's validation hook,
     * rather than on a lease already taken: the pool then neither counts the connection as
     * reused nor credits it twice (a lease that served no request would add to
     * {@code timewait.avoided}), and retires it by its policy as {@code VALIDATION_FAILED}.
     */
    @Override
    public boolean validate(HttpConnection connection) {
        HttpRoute route = connection.route;
        return route == null || LeaseChecks.unfit(connection, connectionConfigs.apply(route), System.nanoTime()) == null;
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
