package io.github.portkeeper.http;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolStats.EndpointStats;
import io.github.portkeeper.core.internal.LeaseHandle;
import io.github.portkeeper.http.internal.ChannelSocketFactory;
import io.github.portkeeper.http.internal.FreshConnection;
import io.github.portkeeper.http.internal.HttpClientFeatures;
import io.github.portkeeper.http.internal.HttpConnection;
import io.github.portkeeper.http.internal.HttpConnector;
import io.github.portkeeper.http.internal.ManagerSettings;
import io.github.portkeeper.http.internal.PendingLease;
import io.github.portkeeper.http.internal.PooledEndpoint;
import io.github.portkeeper.http.internal.RouteKey;
import io.github.portkeeper.http.internal.SubMillisecondTimeouts;
import org.apache.hc.client5.http.ConnectTimeoutException;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.SchemePortResolver;
import org.apache.hc.client5.http.UnsupportedSchemeException;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.client5.http.impl.classic.RequestFailedException;
import org.apache.hc.client5.http.impl.io.DefaultHttpClientConnectionOperator;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.client5.http.io.HttpClientConnectionManager;
import org.apache.hc.client5.http.io.HttpClientConnectionOperator;
import org.apache.hc.client5.http.io.LeaseRequest;
import org.apache.hc.client5.http.io.ManagedHttpClientConnection;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;
import org.apache.hc.core5.function.Resolver;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.URIScheme;
import org.apache.hc.core5.http.config.RegistryBuilder;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.io.Closer;
import org.apache.hc.core5.pool.ConnPoolControl;
import org.apache.hc.core5.pool.PoolStats;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.nio.channels.ClosedByInterruptException;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An Apache HttpClient 5 connection manager backed by a Portkeeper {@link Pool}: a drop-in for
 * {@code PoolingHttpClientConnectionManager}
 * ({@code HttpClients.custom().setConnectionManager(manager)}), built by
 * {@link PortkeeperConnectionManagerBuilder} with the same method names. HttpClient still
 * connects, does TLS and proxies; Portkeeper decides reuse and how each connection ends:
 * <ul>
 *   <li>idle connections are watched, and closed passively the moment the server closes them;</li>
 *   <li>a connection is pooled per route and user token (HttpClient's connection state): one
 *       given back with a user token is leased only to requests with that token;</li>
 *   <li>one with unread bytes, here or in HttpClient's buffer, is never pooled;</li>
 *   <li>{@code Keep-Alive: timeout=N} is honoured with a safety margin, with any
 *       {@code HttpClientBuilder};</li>
 *   <li>{@link ConnectionConfig}'s time to live, idle timeout and validation after inactivity,
 *       and the keep-alive duration HttpClient's strategy allows, are checked at lease.</li>
 * </ul>
 * <b>Where it deliberately differs:</b> HttpClient closes connections it no longer wants itself
 * (expired, idle, evicted, not reusable: a FIN from this host, one TIME_WAIT socket here for
 * 60 s each). This manager retires them by the pool's {@link io.github.portkeeper.core.Retirement}
 * instead: by default it stops using them and lets the server close first, so this host keeps
 * no TIME_WAIT. {@link #closeIdle} and {@link #closeExpired} retire the same way. A connection
 * HttpClient aborts mid-exchange is reset (RST), which also leaves no TIME_WAIT.
 *
 * <p>Thread-safe. Closing the manager closes the pool.
 */
public final class PortkeeperConnectionManager implements HttpClientConnectionManager, ConnPoolControl<HttpRoute> {

    static {
        // Not a public getter: HttpClient's pooling manager has none (see ManagerSettings).
        ManagerSettings.install(m -> m.defaultConnectionConfig);
    }

    private final Pool<HttpConnection> pool;
    private final HttpClientConnectionOperator operator;
    private final SchemePortResolver portResolver;
    private final Map<HttpRoute, Integer> maxPerRoute = new ConcurrentHashMap<>();
    /** Endpoints handed to HttpClient and not yet released, for close(IMMEDIATE). */
    private final Set<PooledEndpoint> leased = ConcurrentHashMap.newKeySet();
    private volatile SocketConfig defaultSocketConfig;
    private volatile ConnectionConfig defaultConnectionConfig;
    private volatile TlsConfig defaultTlsConfig;
    private volatile Resolver<HttpRoute, SocketConfig> socketConfigResolver;
    private volatile Resolver<HttpRoute, ConnectionConfig> connectionConfigResolver;
    private volatile Resolver<HttpHost, TlsConfig> tlsConfigResolver;

    PortkeeperConnectionManager(PortkeeperConnectionManagerBuilder b, io.github.portkeeper.core.PoolConfig poolConfig,
                                TlsSocketStrategy tls, SchemePortResolver portResolver) {
        // The connector reads the route's ConnectionConfig only for idle connections, so after
        // this constructor has set the resolvers.
        this.pool = Pool.of(new HttpConnector(b.http1Config, this::connectionConfig), poolConfig);
        this.portResolver = portResolver;
        this.operator = new DefaultHttpClientConnectionOperator(ChannelSocketFactory.INSTANCE, portResolver, b.dnsResolver,
                RegistryBuilder.<TlsSocketStrategy>create().register(URIScheme.HTTPS.id, tls).build());
        this.defaultSocketConfig = b.socketConfig;
        this.defaultConnectionConfig = b.connectionConfig;
        this.defaultTlsConfig = b.tlsConfig;
        this.socketConfigResolver = b.socketConfigResolver;
        this.connectionConfigResolver = b.connectionConfigResolver;
        this.tlsConfigResolver = b.tlsConfigResolver;
    }

    /**
     * A manager with the default settings.
     *
     * @return a new manager
     */
    public static PortkeeperConnectionManager create() {
        return builder().build();
    }

    /**
     * A builder, the same as {@link PortkeeperConnectionManagerBuilder#create()}.
     *
     * @return a new builder
     */
    public static PortkeeperConnectionManagerBuilder builder() {
        return PortkeeperConnectionManagerBuilder.create();
    }

    /**
     * The pool behind the manager, for metrics ({@code new PoolMetrics(manager.pool())}), stats
     * and its configuration. Its connections are internal to this manager.
     *
     * @return the pool
     */
    public Pool<?> pool() {
        return pool;
    }

    // ------------------------------------------------------------------ HttpClientConnectionManager

    /**
     * Leases with no request timeout of its own (the timeout given to {@link LeaseRequest#get} applies).
     *
     * @param id    the exchange id, for logs
     * @param route the route
     * @param state the user token, or null
     * @return the lease request
     */
    public LeaseRequest lease(String id, HttpRoute route, Object state) {
        return lease(id, route, Timeout.DISABLED, state);
    }

    @Override
    public LeaseRequest lease(String id, HttpRoute route, Timeout requestTimeout, Object state) {
        Objects.requireNonNull(route, "route");
        HttpHost firstHop = route.getProxyHost() != null ? route.getProxyHost() : route.getTargetHost();
        if (portOf(firstHop) < 0) {
            // No port, and a scheme with no default one (HttpClient's resolver says -1): fail the
            // lease as HttpClient's operator fails such a connect, rather than with the pool's
            // port check. Its route planner refuses such a request first; this is a route built
            // by hand, through a proxy (a route refuses a target without a port).
            UnsupportedSchemeException unsupported = new UnsupportedSchemeException(firstHop.getSchemeName() + " protocol is not supported");
            return new PendingLease(timeout -> {
                throw unsupported;
            });
        }
        Endpoint endpoint = endpointOf(route, state);
        boolean fresh = FreshConnection.isRequired();
        return new PendingLease(timeout -> {
            PooledEndpoint pe = new PooledEndpoint(take(endpoint, route, fresh, toDuration(timeout, requestTimeout)), route);
            leased.add(pe);
            if (pool.isClosed()) {
                pe.close(CloseMode.IMMEDIATE);
            }
            return pe;
        });
    }

    /**
     * A connection for the route, reused if one is fit: the pool's validation runs HttpClient's
     * reuse checks ({@code LeaseChecks}, through {@link HttpConnector#validate}) on idle ones.
     */
    private Lease<HttpConnection> take(Endpoint endpoint, HttpRoute route, boolean fresh, Duration wait) throws IOException {
        Lease<HttpConnection> lease = fresh ? pool.leaseNew(endpoint, wait) : pool.lease(endpoint, wait);
        if (lease.isReused()) {
            ConnectionConfig config = connectionConfig(route);
            HttpConnection c = lease.connection();
            c.managed().activate(); // restores the socket timeout it was bound with (SocketConfig)
            if (config.getSocketTimeout() != null) {
                c.managed().setSocketTimeout(SubMillisecondTimeouts.roundedUp(config.getSocketTimeout()));
            }
        }
        return lease;
    }

    @Override
    public void release(ConnectionEndpoint endpoint, Object newState, TimeValue validDuration) {
        PooledEndpoint pe = cast(endpoint);
        leased.remove(pe);
        Lease<HttpConnection> lease = pe.detach();
        if (lease == null) {
            return;
        }
        if (!pe.isDiscarded()) {
            HttpConnection c = lease.connection();
            boolean consistent = c.managed().isOpen() && c.managed().isConsistent() && !c.hasBufferedInput();
            // HttpClient's meaning: null = do not reuse; zero or less = reuse with no time limit.
            if (consistent && validDuration != null && !c.closeExpected()) {
                c.managed().passivate();
                long now = System.nanoTime();
                PooledEndpoint.released(c, newState, now,
                        TimeValue.isPositive(validDuration) ? now + validDuration.toNanoseconds() : Long.MAX_VALUE);
                if (c.keepAliveHintMillis() > 0) {
                    pool.hintIdleTimeout(lease.endpoint(), Duration.ofMillis(c.keepAliveHintMillis()));
                }
                if (!Objects.equals(newState, ((RouteKey) lease.endpoint().qualifier()).state())) {
                    lease.moveTo(endpointOf(pe.route(), newState)); // from now on it serves that user only
                }
            } else {
                PooledEndpoint.discard(lease, consistent);
            }
        }
        lease.close();
    }

    @Override
    public void connect(ConnectionEndpoint endpoint, TimeValue connectTimeout, HttpContext context) throws IOException {
        PooledEndpoint pe = cast(endpoint);
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
        SocketConfig socketConfig = socketConfig(route);
        ConnectionConfig connectionConfig = connectionConfig(route);
        HttpHost firstHop = route.getProxyHost() != null ? route.getProxyHost() : route.getTargetHost();
        Timeout timeout = SubMillisecondTimeouts.roundedUp(connectTimeout != null
                ? Timeout.of(connectTimeout.getDuration(), connectTimeout.getTimeUnit()) : connectionConfig.getConnectTimeout());
        Lease<HttpConnection> lease = pe.connectionLease();
        HttpConnection c = lease.connection();
        TlsConfig tls = route.isTunnelled() ? null : tlsConfig(route.getTargetHost());
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

    /**
     * Handshakes TLS with the target through the tunnel HttpClient opened. The connect that
     * {@link #connect} began ends here: its outcome, handshake included, is what the guard, the
     * listeners and the meters hear (a failed handshake is a failed connect), and the user's
     * linger applies only once it succeeded.
     */
    @Override
    public void upgrade(ConnectionEndpoint endpoint, HttpContext context) throws IOException {
        PooledEndpoint pe = cast(endpoint);
        HttpRoute route = pe.route();
        Lease<HttpConnection> lease = pe.connectionLease();
        boolean reports = pe.takeAwaitingUpgrade();
        long start = pe.upgradeConnectStart();
        try {
            operator.upgrade(lease.connection().managed(), route.getTargetHost(), route.getTargetName(),
                    tlsConfig(route.getTargetHost()), context);
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

    /** Closes the pool: idle connections close by the retirement fallback, leased ones when given back. */
    @Override
    public void close() {
        close(CloseMode.GRACEFUL);
    }

    /**
     * Closes the pool. {@link CloseMode#IMMEDIATE} also aborts connections in use (RST), so
     * requests in flight fail at once, as with HttpClient's own manager.
     */
    @Override
    public void close(CloseMode closeMode) {
        pool.close();
        if (closeMode == CloseMode.IMMEDIATE) {
            for (PooledEndpoint pe : leased) {
                pe.close(CloseMode.IMMEDIATE);
            }
        }
    }

    // ------------------------------------------------------------------ ConnPoolControl

    /**
     * @throws IllegalArgumentException if {@code max} is below 1 (HttpClient's pool takes 0 for a
     *                                  pool that opens no connection)
     */
    @Override
    public void setMaxTotal(int max) {
        pool.setMaxTotal(atLeastOne("maxTotal", max));
    }

    @Override
    public int getMaxTotal() {
        return pool.maxTotal();
    }

    /**
     * @throws IllegalArgumentException if {@code max} is below 1 (HttpClient's pool takes 0 for
     *                                  routes that get no new connection)
     */
    @Override
    public void setDefaultMaxPerRoute(int max) {
        pool.setMaxPerEndpoint(atLeastOne("defaultMaxPerRoute", max));
    }

    /** Checked here, so that the message names HttpClient's setting rather than the pool's. */
    private static int atLeastOne(String name, int max) {
        if (max < 1) {
            throw new IllegalArgumentException(name + " must be at least 1, but was " + max);
        }
        return max;
    }

    @Override
    public int getDefaultMaxPerRoute() {
        return pool.maxPerEndpoint();
    }

    /**
     * The limit applies to each user token's connections of the route (they are pooled apart).
     * A negative {@code max} takes the route's own limit back, as in HttpClient's pool: the route
     * follows the default limit again.
     *
     * @throws IllegalArgumentException if {@code max} is 0 (HttpClient's pool takes 0 for a route
     *                                  that gets no new connection, so every request to it that
     *                                  finds no idle one waits out its timeout)
     */
    @Override
    public void setMaxPerRoute(HttpRoute route, int max) {
        Objects.requireNonNull(route, "route");
        if (max < 0) {
            maxPerRoute.remove(route);
            for (Endpoint e : pool.endpoints()) {
                if (((RouteKey) e.qualifier()).route().equals(route)) {
                    pool.clearMaxPerEndpoint(e);
                }
            }
            return;
        }
        if (max == 0) {
            throw new IllegalArgumentException("maxPerRoute of route " + route + " must be at least 1 (or negative, to "
                    + "follow the default again), but was 0");
        }
        maxPerRoute.put(route, max);
        for (Endpoint e : pool.endpoints()) {
            if (((RouteKey) e.qualifier()).route().equals(route)) {
                pool.setMaxPerEndpoint(e, max);
            }
        }
    }

    @Override
    public int getMaxPerRoute(HttpRoute route) {
        return maxPerRoute.getOrDefault(route, pool.maxPerEndpoint());
    }

    @Override
    public PoolStats getTotalStats() {
        io.github.portkeeper.core.PoolStats s = pool.stats();
        return new PoolStats(s.active(), s.pending(), s.idle(), pool.maxTotal());
    }

    @Override
    public PoolStats getStats(HttpRoute route) {
        int leased = 0;
        int pending = 0;
        int available = 0;
        for (Endpoint e : pool.endpoints()) {
            if (((RouteKey) e.qualifier()).route().equals(route)) {
                EndpointStats s = pool.stats(e);
                leased += s.active();
                pending += s.pending();
                available += s.idle();
            }
        }
        return new PoolStats(leased, pending, available, getMaxPerRoute(route));
    }

    @Override
    public Set<HttpRoute> getRoutes() {
        Set<HttpRoute> routes = new HashSet<>();
        for (Endpoint e : pool.endpoints()) {
            routes.add(((RouteKey) e.qualifier()).route());
        }
        return routes;
    }

    /**
     * Retires connections idle for {@code idleTime} or longer, by the pool's retirement policy (by
     * default the server closes them; HttpClient's own manager closes them from this side).
     */
    @Override
    public void closeIdle(TimeValue idleTime) {
        Objects.requireNonNull(idleTime, "idleTime");
        Duration limit = Duration.ofNanos(Math.max(0, idleTime.toNanoseconds()));
        pool.retireIdle((c, idleFor) -> idleFor.compareTo(limit) >= 0);
    }

    /** Retires, by the pool's retirement policy, connections past their time to live or keep-alive. */
    @Override
    public void closeExpired() {
        long now = System.nanoTime();
        pool.retireIdle((c, idleFor) -> PooledEndpoint.expired(c, this::connectionConfig, now));
    }

    // ------------------------------------------------------------------ configuration at run time

    /** @param config socket settings for routes the resolver does not cover */
    public void setDefaultSocketConfig(SocketConfig config) {
        this.defaultSocketConfig = config != null ? config : SocketConfig.DEFAULT;
    }

    /** @return socket settings for routes the resolver does not cover */
    public SocketConfig getDefaultSocketConfig() {
        return defaultSocketConfig;
    }

    /** @param resolver socket settings per route; null for the default everywhere */
    public void setSocketConfigResolver(Resolver<HttpRoute, SocketConfig> resolver) {
        this.socketConfigResolver = resolver;
    }

    /** @param config connection settings for routes the resolver does not cover */
    public void setDefaultConnectionConfig(ConnectionConfig config) {
        this.defaultConnectionConfig = config != null ? config : ConnectionConfig.DEFAULT;
    }

    /** @param resolver connection settings per route; null for the default everywhere */
    public void setConnectionConfigResolver(Resolver<HttpRoute, ConnectionConfig> resolver) {
        this.connectionConfigResolver = resolver;
    }

    /** @param config TLS settings for hosts the resolver does not cover */
    public void setDefaultTlsConfig(TlsConfig config) {
        this.defaultTlsConfig = config != null ? config : TlsConfig.DEFAULT;
    }

    /** @param resolver TLS settings per target host; null for the default everywhere */
    public void setTlsConfigResolver(Resolver<HttpHost, TlsConfig> resolver) {
        this.tlsConfigResolver = resolver;
    }

    /** @return whether the manager (its pool) has been closed */
    public boolean isClosed() {
        return pool.isClosed();
    }

    private SocketConfig socketConfig(HttpRoute route) {
        Resolver<HttpRoute, SocketConfig> r = socketConfigResolver;
        SocketConfig c = r != null ? r.resolve(route) : null;
        return SubMillisecondTimeouts.roundedUp(c != null ? c : defaultSocketConfig);
    }

    private ConnectionConfig connectionConfig(HttpRoute route) {
        Resolver<HttpRoute, ConnectionConfig> r = connectionConfigResolver;
        ConnectionConfig c = r != null ? r.resolve(route) : null;
        return c != null ? c : defaultConnectionConfig;
    }

    private TlsConfig tlsConfig(HttpHost host) {
        Resolver<HttpHost, TlsConfig> r = tlsConfigResolver;
        TlsConfig c = r != null ? r.resolve(host) : null;
        return SubMillisecondTimeouts.roundedUp(c != null ? c : defaultTlsConfig);
    }

    private Endpoint endpointOf(HttpRoute route, Object state) {
        HttpHost firstHop = route.getProxyHost() != null ? route.getProxyHost() : route.getTargetHost();
        Endpoint endpoint = Endpoint.of(firstHop.getHostName(), portOf(firstHop), new RouteKey(route, state));
        Integer max = maxPerRoute.isEmpty() ? null : maxPerRoute.get(route);
        if (max != null && pool.maxPerEndpoint(endpoint) != max) {
            pool.setMaxPerEndpoint(endpoint, max);
        }
        return endpoint;
    }

    /** The host's port, or its scheme's default; -1 if it has neither. */
    private int portOf(HttpHost host) {
        try {
            return portResolver.resolve(host);
        } catch (RuntimeException e) {
            return host.getPort();
        }
    }

    /**
     * The wait for a pooled connection. Zero (disabled) is HttpClient's "no timeout"; any other
     * timeout is waited for to the nanosecond, so a positive one under 1 ms is not taken for 0.
     */
    private static Duration toDuration(Timeout timeout, Timeout requestTimeout) {
        Timeout t = timeout != null && !timeout.isDisabled() ? timeout : requestTimeout;
        if (t == null || t.isDisabled() || t.toNanoseconds() <= 0) {
            return Duration.ofDays(365);
        }
        return Duration.ofNanos(t.toNanoseconds());
    }

    private static PooledEndpoint cast(ConnectionEndpoint endpoint) {
        if (endpoint instanceof PooledEndpoint) {
            return (PooledEndpoint) endpoint;
        }
        throw new IllegalStateException("Unexpected endpoint class: " + endpoint.getClass().getName());
    }

    @Override
    public String toString() {
        return "PortkeeperConnectionManager[" + pool.name() + ", " + pool.stats() + "]";
    }
}
