package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.core5.function.Resolver;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.io.SocketConfig;

/**
 * The connection manager's socket, connection and TLS settings: defaults, and resolvers per route
 * (per target host for TLS), changeable at run time as on HttpClient's pooling manager. Why apart
 * from the manager: leasing, connecting and the pool's connector all read them, and the manager
 * is left with its public API.
 *
 * <p>Thread-safe: each setting is one volatile field, read once per resolution.
 */
public final class RouteConfigs {

    private volatile SocketConfig defaultSocketConfig;
    private volatile ConnectionConfig defaultConnectionConfig;
    private volatile TlsConfig defaultTlsConfig;
    private volatile Resolver<HttpRoute, SocketConfig> socketConfigResolver;
    private volatile Resolver<HttpRoute, ConnectionConfig> connectionConfigResolver;
    private volatile Resolver<HttpHost, TlsConfig> tlsConfigResolver;

    public RouteConfigs(SocketConfig socketConfig, ConnectionConfig connectionConfig, TlsConfig tlsConfig,
                        Resolver<HttpRoute, SocketConfig> socketConfigResolver,
                        Resolver<HttpRoute, ConnectionConfig> connectionConfigResolver,
                        Resolver<HttpHost, TlsConfig> tlsConfigResolver) {
        this.defaultSocketConfig = socketConfig;
        this.defaultConnectionConfig = connectionConfig;
        this.defaultTlsConfig = tlsConfig;
        this.socketConfigResolver = socketConfigResolver;
        this.connectionConfigResolver = connectionConfigResolver;
        this.tlsConfigResolver = tlsConfigResolver;
    }

    public void setDefaultSocketConfig(SocketConfig config) {
        this.defaultSocketConfig = config != null ? config : SocketConfig.DEFAULT;
    }

    public SocketConfig defaultSocketConfig() {
        return defaultSocketConfig;
    }

    public void setSocketConfigResolver(Resolver<HttpRoute, SocketConfig> resolver) {
        this.socketConfigResolver = resolver;
    }

    public void setDefaultConnectionConfig(ConnectionConfig config) {
        this.defaultConnectionConfig = config != null ? config : ConnectionConfig.DEFAULT;
    }

    public ConnectionConfig defaultConnectionConfig() {
        return defaultConnectionConfig;
    }

    public void setConnectionConfigResolver(Resolver<HttpRoute, ConnectionConfig> resolver) {
        this.connectionConfigResolver = resolver;
    }

    public void setDefaultTlsConfig(TlsConfig config) {
        this.defaultTlsConfig = config != null ? config : TlsConfig.DEFAULT;
    }

    public void setTlsConfigResolver(Resolver<HttpHost, TlsConfig> resolver) {
        this.tlsConfigResolver = resolver;
    }

    /** The route's socket settings, timeouts under 1 ms rounded up. */
    public SocketConfig socketConfig(HttpRoute route) {
        Resolver<HttpRoute, SocketConfig> r = socketConfigResolver;
        SocketConfig c = r != null ? r.resolve(route) : null;
        return SubMillisecondTimeouts.roundedUp(c != null ? c : defaultSocketConfig);
    }

    /** The route's connection settings. */
    public ConnectionConfig connectionConfig(HttpRoute route) {
        Resolver<HttpRoute, ConnectionConfig> r = connectionConfigResolver;
        ConnectionConfig c = r != null ? r.resolve(route) : null;
        return c != null ? c : defaultConnectionConfig;
    }

    /** The host's TLS settings, timeouts under 1 ms rounded up. */
    public TlsConfig tlsConfig(HttpHost host) {
        Resolver<HttpHost, TlsConfig> r = tlsConfigResolver;
        TlsConfig c = r != null ? r.resolve(host) : null;
        return SubMillisecondTimeouts.roundedUp(c != null ? c : defaultTlsConfig);
    }
}
