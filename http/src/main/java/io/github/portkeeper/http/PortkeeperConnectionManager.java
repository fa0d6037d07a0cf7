package io.github.portkeeper.http;

import io.github.portkeeper.core.Pool;
import io.github.portkeeper.http.internal.ChannelSocketFactory;
import io.github.portkeeper.http.internal.EndpointConnector;
import io.github.portkeeper.http.internal.EndpointLeases;
import io.github.portkeeper.http.internal.HttpConnection;
import io.github.portkeeper.http.internal.HttpConnector;
import io.github.portkeeper.http.internal.ManagerSettings;
import io.github.portkeeper.http.internal.PooledEndpoint;
import io.github.portkeeper.http.internal.RouteConfigs;
import io.github.portkeeper.http.internal.RouteEndpoints;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.SchemePortResolver;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.client5.http.impl.io.DefaultHttpClientConnectionOperator;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.client5.http.io.HttpClientConnectionManager;
import org.apache.hc.client5.http.io.LeaseRequest;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;
import org.apache.hc.core5.function.Resolver;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.URIScheme;
import org.apache.hc.core5.http.config.RegistryBuilder;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.pool.ConnPoolControl;
import org.apache.hc.core5.pool.PoolStats;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;

import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

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
        ManagerSettings.install(m -> m.configs.defaultConnectionConfig());
    }

    // A facade, as OkHttp's ConnectionPool over RealConnectionPool: the engine is in internal.
    private final Pool<HttpConnection> pool;
    private final RouteConfigs configs;
    private final RouteEndpoints routes;
    private final EndpointLeases leases;
    private final EndpointConnector connector;

    PortkeeperConnectionManager(PortkeeperConnectionManagerBuilder b, io.github.portkeeper.core.PoolConfig poolConfig,
                                TlsSocketStrategy tls, SchemePortResolver portResolver) {
        this.configs = new RouteConfigs(b.socketConfig, b.connectionConfig, b.tlsConfig,
                b.socketConfigResolver, b.connectionConfigResolver, b.tlsConfigResolver);
        // The connector reads the route's ConnectionConfig only for idle connections, through the
        // settings made above.
        this.pool = Pool.of(new HttpConnector(b.http1Config, configs::connectionConfig), poolConfig);
        this.routes = new RouteEndpoints(pool, portResolver);
        this.leases = new EndpointLeases(pool, routes, configs);
        this.connector = new EndpointConnector(pool, new DefaultHttpClientConnectionOperator(ChannelSocketFactory.INSTANCE,
                portResolver, b.dnsResolver, RegistryBuilder.<TlsSocketStrategy>create().register(URIScheme.HTTPS.id, tls).build()),
                configs);
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
        return leases.lease(route, requestTimeout, state);
    }

    @Override
    public void release(ConnectionEndpoint endpoint, Object newState, TimeValue validDuration) {
        leases.release(endpoint, newState, validDuration);
    }

    @Override
    public void connect(ConnectionEndpoint endpoint, TimeValue connectTimeout, HttpContext context) throws IOException {
        connector.connect(endpoint, connectTimeout, context);
    }

    /**
     * Handshakes TLS with the target through the tunnel HttpClient opened. The connect that
     * {@link #connect} began ends here: its outcome, handshake included, is what the guard, the
     * listeners and the meters hear (a failed handshake is a failed connect), and the user's
     * linger applies only once it succeeded.
     */
    @Override
    public void upgrade(ConnectionEndpoint endpoint, HttpContext context) throws IOException {
        connector.upgrade(endpoint, context);
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
            leases.abortLeased();
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
        if (max == 0) {
            throw new IllegalArgumentException("maxPerRoute of route " + route + " must be at least 1 (or negative, to "
                    + "follow the default again), but was 0");
        }
        routes.setMaxPerRoute(route, max);
    }

    @Override
    public int getMaxPerRoute(HttpRoute route) {
        return routes.maxPerRoute(route);
    }

    @Override
    public PoolStats getTotalStats() {
        io.github.portkeeper.core.PoolStats s = pool.stats();
        return new PoolStats(s.active(), s.pending(), s.idle(), pool.maxTotal());
    }

    @Override
    public PoolStats getStats(HttpRoute route) {
        return routes.stats(route);
    }

    @Override
    public Set<HttpRoute> getRoutes() {
        return routes.routes();
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
        pool.retireIdle((c, idleFor) -> PooledEndpoint.expired(c, configs::connectionConfig, now));
    }

    // ------------------------------------------------------------------ configuration at run time

    /** @param config socket settings for routes the resolver does not cover */
    public void setDefaultSocketConfig(SocketConfig config) {
        configs.setDefaultSocketConfig(config);
    }

    /** @return socket settings for routes the resolver does not cover */
    public SocketConfig getDefaultSocketConfig() {
        return configs.defaultSocketConfig();
    }

    /** @param resolver socket settings per route; null for the default everywhere */
    public void setSocketConfigResolver(Resolver<HttpRoute, SocketConfig> resolver) {
        configs.setSocketConfigResolver(resolver);
    }

    /** @param config connection settings for routes the resolver does not cover */
    public void setDefaultConnectionConfig(ConnectionConfig config) {
        configs.setDefaultConnectionConfig(config);
    }

    /** @param resolver connection settings per route; null for the default everywhere */
    public void setConnectionConfigResolver(Resolver<HttpRoute, ConnectionConfig> resolver) {
        configs.setConnectionConfigResolver(resolver);
    }

    /** @param config TLS settings for hosts the resolver does not cover */
    public void setDefaultTlsConfig(TlsConfig config) {
        configs.setDefaultTlsConfig(config);
    }

    /** @param resolver TLS settings per target host; null for the default everywhere */
    public void setTlsConfigResolver(Resolver<HttpHost, TlsConfig> resolver) {
        configs.setTlsConfigResolver(resolver);
    }

    /** @return whether the manager (its pool) has been closed */
    public boolean isClosed() {
        return pool.isClosed();
    }

    @Override
    public String toString() {
        return "PortkeeperConnectionManager[" + pool.name() + ", " + pool.stats() + "]";
    }
}
