package io.github.portkeeper.http.internal;

import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.internal.LeaseHandle;
import org.apache.hc.client5.http.ConnectTimeoutException;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.client5.http.impl.classic.RequestFailedException;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.client5.http.io.HttpClientConnectionOperator;
import org.apache.hc.client5.http.io.ManagedHttpClientConnection;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.io.Closer;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.Path;

/**
 * Connects a leased endpoint for the connection manager: HttpClient's operator connects, does
 * TLS and proxies, and this reports the outcome to the pool (the pool's own connector connects
 * on first use, so its guard, listeners and meters hear of the connect here), or gives up on a
 * connect whose endpoint was closed meanwhile. Not to be confused with {@link HttpConnector},
 * which makes the pool's unconnected connections. Why apart from the manager: connect and
 * upgrade are a small state machine of their own (connected, awaiting the upgrade, abandoned).
 *
 * <p>Thread-safe.
 */
public final class EndpointConnector {

    private final Pool<HttpConnection> pool;
    private final HttpClientConnectionOperator operator;
    private final RouteConfigs configs;

    public EndpointConnector(Pool<HttpConnection> pool, HttpClientConnectionOperator operator, RouteConfigs configs) {
        this.pool = pool;
        this.operator = operator;
        this.configs = configs;
    }

    /** HttpClient's {@code connect}: connects the endpoint unless it is connected. */
    public void connect(ConnectionEndpoint endpoint, TimeValue connectTimeout, HttpContext context) throws IOException {
        PooledEndpoint pe = EndpointLeases.cast(endpoint);
        if (pe.isConnected()) {
            return;
        }
        HttpRoute route = pe.route();
        if (pe.isDisconnected()) {
            // HttpClient closed it and connects again (a retry after 401 + Connection: close, a
            // proxy CONNECT to re-send): the old one is given back, to leave by its discard.
            Lease<HttpConnection> old = pe.connectionLease();
            old.close(); // first, so it holds no slot: it was retired or aborted when closed
            Lease<HttpConnection> fresh = pool.leaseNew(old.endpoint(), pool.config().leaseTimeout());
            if (!pe.replace(old, fresh)) {
                fresh.close();
                throw new IOException("Endpoint released while reconnecting");
            }
        }
        SocketConfig socketConfig = configs.socketConfig(route);
        ConnectionConfig connectionConfig = configs.connectionConfig(route);
        HttpHost firstHop = route.getProxyHost() != null ? route.getProxyHost() : route.getTargetHost();
        Timeout timeout = SubMillisecondTimeouts.roundedUp(connectTimeout != null
                ? Timeout.of(connectTimeout.getDuration(), connectTimeout.getTimeUnit()) : connectionConfig.getConnectTimeout());
        Lease<HttpConnection> lease = pe.connectionLease();
        HttpConnection c = lease.connection();
        TlsConfig tls = route.isTunnelled() ? null : configs.tlsConfig(route.getTargetHost());
        Path unixSocket = HttpClientFeatures.unixDomainSocket(route);
        long start = System.nanoTime();
        try {
            if (unixSocket != null) {
                operator.connect(c.managed(), firstHop, route.getTargetName(), unixSocket, route.getLocalSocketAddress(),
                        timeout, socketConfig, tls, context);
            } else {
                // The form without a socket path: HttpClient 5.5 has only this one.
                operator.connect(c.managed(), firstHop, route.getTargetName(), route.getLocalSocketAddress(),
                        timeout, socketConfig, tls, context);
            }
        } catch (IOException | RuntimeException failed) {
            // The pool's connect happens here (its connector connects on first use): the guard,
            // the listeners and the meters hear how it went. A connect cut short by a cancel, the
            // manager's close or an interrupt is no failure of the endpoint.
            if (pe.isDisconnected() || isInterrupt(failed)) {
                LeaseHandle.connectAbandoned(lease);
            } else {
                LeaseHandle.connectFailed(lease, System.nanoTime() - start, failed);
            }
            throw failed;
        }
        if (connectEndsWithUpgrade(route)) {
            // Only TCP to the proxy: the connect goes on with HttpClient's CONNECT and ends with
            // the TLS handshake with the target, in upgrade(), which reports it.
            if (!pe.awaitUpgrade(start)) {
                throw abandonClosedWhileConnecting(lease, c);
            }
        } else {
            reportConnected(pe, lease, start);
        }
        if (connectionConfig.getSocketTimeout() != null) {
            c.managed().setSocketTimeout(SubMillisecondTimeouts.roundedUp(connectionConfig.getSocketTimeout()));
        }
    }

    /**
     * Whether HttpClient's connect of {@code route} ends in {@link #upgrade}: a tunnel through a
     * proxy with TLS to the target (HTTPS through an HTTP or HTTPS proxy). A tunnel without TLS to
     * the target is never upgraded by HttpClient: its connect, as HttpClient's own manager sees
     * it, ends with the TCP connect to the proxy, and is reported there.
     */
    private static boolean connectEndsWithUpgrade(HttpRoute route) {
        return route.isTunnelled() && route.isLayered();
    }

    /**
     * The connect that began at {@code start} is done: the user's linger applies from now on, and
     * the guard, the listeners and the meters hear of a success.
     */
    private static void reportConnected(PooledEndpoint pe, Lease<HttpConnection> lease, long start) throws IOException {
        long connected = System.nanoTime();
        if (!pe.markConnected(connected)) {
            throw abandonClosedWhileConnecting(lease, lease.connection());
        }
        LeaseHandle.connected(lease, connected - start);
    }

    /**
     * HttpClient's {@code upgrade}: handshakes TLS with the target through the tunnel HttpClient
     * opened. The connect that {@link #connect} began ends here: its outcome, handshake included,
     * is what the guard, the listeners and the meters hear (a failed handshake is a failed
     * connect), and the user's linger applies only once it succeeded.
     */
    public void upgrade(ConnectionEndpoint endpoint, HttpContext context) throws IOException {
        PooledEndpoint pe = EndpointLeases.cast(endpoint);
        HttpRoute route = pe.route();
        Lease<HttpConnection> lease = pe.connectionLease();
        boolean reports = pe.takeAwaitingUpgrade();
        long start = pe.upgradeConnectStart();
        try {
            operator.upgrade(lease.connection().managed(), route.getTargetHost(), route.getTargetName(),
                    configs.tlsConfig(route.getTargetHost()), context);
        } catch (IOException | RuntimeException failed) {
            if (reports) {
                if (pe.isDisconnected() || isInterrupt(failed)) {
                    LeaseHandle.connectAbandoned(lease);
                } else {
                    LeaseHandle.connectFailed(lease, System.nanoTime() - start, failed);
                }
            }
            throw failed;
        }
        if (reports) {
            reportConnected(pe, lease, start);
        }
    }

    /**
     * The endpoint was closed or released while it connected: closes what was connected (nobody
     * else will) and abandons the connect; returns what to throw.
     */
    private static IOException abandonClosedWhileConnecting(Lease<HttpConnection> lease, HttpConnection c) {
        closeAtOnce(c.managed());
        LeaseHandle.connectAbandoned(lease);
        // What HttpClient throws for a request cancelled a moment earlier, before it connects.
        return new RequestFailedException("Request aborted: the endpoint was closed while it connected");
    }

    /**
     * An interrupt of the connecting thread, as opposed to a connect that failed or timed out
     * (HttpClient's {@code ConnectTimeoutException} is an {@link InterruptedIOException} too).
     */
    private static boolean isInterrupt(Exception failed) {
        return failed instanceof ClosedByInterruptException || Thread.currentThread().isInterrupted()
                || failed instanceof InterruptedIOException && !(failed instanceof SocketTimeoutException)
                && !(failed instanceof ConnectTimeoutException);
    }

    /**
     * Closes, with RST, what the operator connected for an endpoint closed meanwhile. A close
     * before a socket was bound makes that bind fail (see {@code PortkeeperManagedConnection.bind});
     * this covers a close after the last bind. HttpClient's connection ignores a second close, so
     * the socket is also closed here.
     */
    private static void closeAtOnce(ManagedHttpClientConnection conn) {
        Socket socket = conn.getSocket();
        if (socket != null) {
            try {
                socket.setSoLinger(true, 0);
            } catch (IOException ignored) {
                // Closed already.
            }
        }
        conn.close(CloseMode.IMMEDIATE);
        Closer.closeQuietly(socket);
    }
}
