package io.github.portkeeper.http;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.LeaseTimeoutException;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.internal.ChannelSocketFactory;
import io.github.portkeeper.http.internal.FreshConnection;
import io.github.portkeeper.http.internal.HttpConnection;
import io.github.portkeeper.http.internal.HttpConnector;
import io.github.portkeeper.http.internal.PooledEndpoint;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.SchemePortResolver;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.client5.http.impl.DefaultSchemePortResolver;
import org.apache.hc.client5.http.impl.io.DefaultHttpClientConnectionOperator;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.client5.http.io.HttpClientConnectionManager;
import org.apache.hc.client5.http.io.HttpClientConnectionOperator;
import org.apache.hc.client5.http.io.LeaseRequest;
import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.URIScheme;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.http.config.RegistryBuilder;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * An Apache HttpClient 5 connection manager backed by a Portkeeper {@link Pool}: for users who
 * keep their own {@code HttpClientBuilder}
 * ({@code HttpClients.custom().setConnectionManager(manager)}). HttpClient still connects, does
 * TLS and proxies; Portkeeper decides reuse and how each connection ends:
 * <ul>
 *   <li>idle connections are watched, and closed passively the moment the server closes them;</li>
 *   <li>idle and expired ones leave by the pool's retirement (default: the server closes first);</li>
 *   <li>a connection past its lifetime or request budget carries {@code Connection: close} on its
 *       last request, so the server closes it;</li>
 *   <li>{@code Keep-Alive: timeout=N} is honoured with a safety margin.</li>
 * </ul>
 * A connection is pooled per route and user token: it never serves another route, proxy or
 * identity. TLS settings are per manager; clients with different TLS settings need their own.
 *
 * <p>Thread-safe. Closing the manager closes the pool.
 */
public final class PortkeeperConnectionManager implements HttpClientConnectionManager {

    private final Pool<HttpConnection> pool;
    private final HttpClientConnectionOperator operator;
    private final SchemePortResolver portResolver = DefaultSchemePortResolver.INSTANCE;
    private final ConnectionConfig connectionConfig;
    private final SocketConfig socketConfig;
    private final TlsConfig tlsConfig;

    private PortkeeperConnectionManager(Builder b) {
        this.pool = Pool.of(new HttpConnector(b.http1Config), b.poolConfig);
        TlsSocketStrategy tls = b.tlsSocketStrategy != null ? b.tlsSocketStrategy : DefaultClientTlsStrategy.createDefault();
        this.operator = new DefaultHttpClientConnectionOperator(ChannelSocketFactory.INSTANCE, portResolver, b.dnsResolver,
                RegistryBuilder.<TlsSocketStrategy>create().register(URIScheme.HTTPS.id, tls).build());
        this.connectionConfig = b.connectionConfig;
        this.socketConfig = b.socketConfig;
        this.tlsConfig = b.tlsConfig;
    }

    /** A manager with the default settings. */
    public static PortkeeperConnectionManager create() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The pool behind the manager: bind its metrics with {@code new PoolMetrics(manager.pool())}. */
    public Pool<HttpConnection> pool() {
        return pool;
    }

    @Override
    public LeaseRequest lease(String id, HttpRoute route, Timeout requestTimeout, Object state) {
        Objects.requireNonNull(route, "route");
        Endpoint endpoint = endpointOf(route, state);
        boolean fresh = FreshConnection.isRequired();
        return new LeaseRequest() {
            @Override
            public ConnectionEndpoint get(Timeout timeout) throws InterruptedException, ExecutionException, TimeoutException {
                Duration wait = toDuration(timeout, requestTimeout);
                try {
                    Lease<HttpConnection> lease = pool.lease(endpoint, wait);
                    // After a reused connection turned out dead, the retry must not get another
                    // old one: retire reused ones (they leave by the retirement policy) until fresh.
                    for (int i = 0; fresh && lease.isReused() && i <= pool.config().maxPerEndpoint(); i++) {
                        lease.retire();
                        lease.close();
                        lease = pool.lease(endpoint, wait);
                    }
                    HttpConnection c = lease.connection();
                    if (c.managed().isOpen() && connectionConfig.getSocketTimeout() != null) {
                        c.managed().activate();
                        c.managed().setSocketTimeout(connectionConfig.getSocketTimeout());
                    }
                    return new PooledEndpoint(lease, route);
                } catch (LeaseTimeoutException e) {
                    TimeoutException te = new TimeoutException(e.getMessage());
                    te.initCause(e);
                    throw te;
                } catch (InterruptedIOException e) {
                    Thread.currentThread().interrupt();
                    InterruptedException ie = new InterruptedException(e.getMessage());
                    ie.initCause(e);
                    throw ie;
                } catch (IOException e) {
                    if (e.getCause() instanceof InterruptedIOException) {
                        InterruptedException ie = new InterruptedException(e.getMessage());
                        ie.initCause(e);
                        throw ie;
                    }
                    throw new ExecutionException(e.getMessage(), e);
                }
            }

            @Override
            public boolean cancel() {
                return false; // The lease is taken synchronously in get(); nothing is pending.
            }
        };
    }

    @Override
    public void release(ConnectionEndpoint endpoint, Object newState, TimeValue validDuration) {
        PooledEndpoint pe = cast(endpoint);
        Lease<HttpConnection> lease = pe.detach();
        if (lease == null) {
            return;
        }
        HttpConnection c = lease.connection();
        if (!pe.isDiscarded()) {
            boolean consistent = c.managed().isOpen() && c.managed().isConsistent();
            if (consistent && TimeValue.isPositive(validDuration) && !c.closeExpected()) {
                c.managed().passivate();
                if (c.keepAliveHintMillis() > 0) {
                    pool.hintIdleTimeout(lease.endpoint(), Duration.ofMillis(c.keepAliveHintMillis()));
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
        HttpHost firstHop = route.getProxyHost() != null ? route.getProxyHost() : route.getTargetHost();
        Timeout timeout = connectTimeout != null ? Timeout.of(connectTimeout.getDuration(), connectTimeout.getTimeUnit())
                : connectionConfig.getConnectTimeout();
        HttpConnection c = pe.connection();
        operator.connect(c.managed(), firstHop, route.getTargetName(), null, route.getLocalSocketAddress(), timeout,
                socketConfig, route.isTunnelled() ? null : tlsConfig, context);
        pe.markConnected();
        if (connectionConfig.getSocketTimeout() != null) {
            c.managed().setSocketTimeout(connectionConfig.getSocketTimeout());
        }
    }

    @Override
    public void upgrade(ConnectionEndpoint endpoint, HttpContext context) throws IOException {
        PooledEndpoint pe = cast(endpoint);
        HttpRoute route = pe.route();
        operator.upgrade(pe.connection().managed(), route.getTargetHost(), route.getTargetName(), tlsConfig, context);
    }

    @Override
    public void close() {
        pool.close();
    }

    @Override
    public void close(CloseMode closeMode) {
        pool.close();
    }

    private Endpoint endpointOf(HttpRoute route, Object state) {
        HttpHost firstHop = route.getProxyHost() != null ? route.getProxyHost() : route.getTargetHost();
        int port;
        try {
            port = portResolver.resolve(firstHop);
        } catch (RuntimeException e) {
            port = firstHop.getPort();
        }
        return Endpoint.of(firstHop.getHostName(), port, new RouteKey(route, state));
    }

    private static Duration toDuration(Timeout timeout, Timeout requestTimeout) {
        Timeout t = timeout != null && !timeout.isDisabled() ? timeout : requestTimeout;
        if (t == null || t.isDisabled() || t.toMilliseconds() <= 0) {
            return Duration.ofDays(365);
        }
        return Duration.ofMillis(t.toMilliseconds());
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

    /** What makes connections interchangeable: the whole route (target, proxies, TLS layering, local address) and the user token. */
    static final class RouteKey {
        final HttpRoute route;
        final Object state;

        RouteKey(HttpRoute route, Object state) {
            this.route = route;
            this.state = state;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof RouteKey && route.equals(((RouteKey) o).route) && Objects.equals(state, ((RouteKey) o).state);
        }

        @Override
        public int hashCode() {
            return 31 * route.hashCode() + Objects.hashCode(state);
        }

        @Override
        public String toString() {
            return route + (state != null ? " [" + state + "]" : "");
        }
    }

    /** Builds a {@link PortkeeperConnectionManager}. Not thread-safe. */
    public static final class Builder {

        private PoolConfig poolConfig = PoolConfig.builder().name("http").build();
        private ConnectionConfig connectionConfig = ConnectionConfig.DEFAULT;
        private SocketConfig socketConfig = SocketConfig.DEFAULT;
        private TlsConfig tlsConfig = TlsConfig.DEFAULT;
        private TlsSocketStrategy tlsSocketStrategy;
        private DnsResolver dnsResolver;
        private Http1Config http1Config = Http1Config.DEFAULT;

        private Builder() {
        }

        /**
         * Limits, timeouts and policies of the pool; {@code maxPerEndpoint} is the per-route limit.
         * Default: {@link PoolConfig} defaults with name {@code "http"}.
         */
        public Builder poolConfig(PoolConfig poolConfig) {
            this.poolConfig = Objects.requireNonNull(poolConfig, "poolConfig");
            return this;
        }

        /** Connect and socket timeouts. HttpClient's time-to-live and idle settings are replaced by the pool's. */
        public Builder connectionConfig(ConnectionConfig connectionConfig) {
            this.connectionConfig = Objects.requireNonNull(connectionConfig, "connectionConfig");
            return this;
        }

        public Builder socketConfig(SocketConfig socketConfig) {
            this.socketConfig = Objects.requireNonNull(socketConfig, "socketConfig");
            return this;
        }

        public Builder tlsConfig(TlsConfig tlsConfig) {
            this.tlsConfig = Objects.requireNonNull(tlsConfig, "tlsConfig");
            return this;
        }

        /** TLS for https routes. Default: HttpClient's default (system trust store, hostname verification). */
        public Builder tlsSocketStrategy(TlsSocketStrategy tlsSocketStrategy) {
            this.tlsSocketStrategy = Objects.requireNonNull(tlsSocketStrategy, "tlsSocketStrategy");
            return this;
        }

        public Builder dnsResolver(DnsResolver dnsResolver) {
            this.dnsResolver = dnsResolver;
            return this;
        }

        public Builder http1Config(Http1Config http1Config) {
            this.http1Config = Objects.requireNonNull(http1Config, "http1Config");
            return this;
        }

        public PortkeeperConnectionManager build() {
            return new PortkeeperConnectionManager(this);
        }
    }
}
