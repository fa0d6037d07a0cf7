package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.SchemePortResolver;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.client5.http.impl.DefaultSchemePortResolver;
import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;
import org.apache.hc.core5.function.Resolver;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.pool.PoolConcurrencyPolicy;
import org.apache.hc.core5.pool.PoolReusePolicy;

/**
 * Builds a {@link PortkeeperConnectionManager}. Mirrors HttpClient's
 * {@code PoolingHttpClientConnectionManagerBuilder}: the methods with the same name mean the same,
 * so migrating is changing the class name. Portkeeper's own settings (limits, lifetimes,
 * retirement, port budget, metrics listeners) are in {@link #setPoolConfig(PoolConfig)}.
 *
 * <pre>{@code
 * PortkeeperConnectionManager cm = PortkeeperConnectionManagerBuilder.create()
 *         .setMaxConnTotal(100)
 *         .setMaxConnPerRoute(20)
 *         .setDefaultConnectionConfig(ConnectionConfig.custom().setConnectTimeout(Timeout.ofSeconds(5)).build())
 *         .build();
 * CloseableHttpClient client = HttpClients.custom().setConnectionManager(cm).build();
 * }</pre>
 *
 * <p>As with HttpClient's builder, {@code null} given to a setting means its default: the
 * {@code setDefault...Config} methods, {@link #setHttp1Config}, the resolvers and strategies
 * accept it, and so does {@link #setPoolConfig} (the default pool configuration, named
 * {@code "http"}).
 *
 * <p>Timeouts in the socket, connection and TLS configurations are applied in whole
 * milliseconds, as HttpClient applies them; a positive one under 1 ms is applied as 1 ms, where
 * HttpClient would truncate it to 0, which a socket takes for "no timeout".
 *
 * <p>Not thread-safe.
 */
public final class PortkeeperConnectionManagerBuilder {

    private static final PoolConfig DEFAULT_POOL_CONFIG = PoolConfig.builder().name("http").build();

    PoolConfig poolConfig = DEFAULT_POOL_CONFIG;
    int maxConnTotal;
    int maxConnPerRoute;
    ConnectionConfig connectionConfig = ConnectionConfig.DEFAULT;
    SocketConfig socketConfig = SocketConfig.DEFAULT;
    TlsConfig tlsConfig = TlsConfig.DEFAULT;
    Resolver<HttpRoute, SocketConfig> socketConfigResolver;
    Resolver<HttpRoute, ConnectionConfig> connectionConfigResolver;
    Resolver<HttpHost, TlsConfig> tlsConfigResolver;
    private TlsSocketStrategy tlsSocketStrategy;
    private boolean systemProperties;
    DnsResolver dnsResolver;
    private SchemePortResolver schemePortResolver;
    Http1Config http1Config = Http1Config.DEFAULT;

    private PortkeeperConnectionManagerBuilder() {
    }

    /**
     * A builder with the defaults.
     *
     * @return a new builder
     */
    public static PortkeeperConnectionManagerBuilder create() {
        return new PortkeeperConnectionManagerBuilder();
    }

    /**
     * Limits, lifetimes and policies of the pool; its {@code maxPerEndpoint} is the per-route limit
     * and its {@code maxTotal} the total one, unless {@link #setMaxConnPerRoute}/{@link #setMaxConnTotal}
     * set them. Default: {@link PoolConfig} defaults with name {@code "http"} (8 per route, 64 in
     * total; HttpClient's are 5 and 25).
     *
     * @param poolConfig the pool configuration; {@code null} for the default
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setPoolConfig(PoolConfig poolConfig) {
        this.poolConfig = poolConfig != null ? poolConfig : DEFAULT_POOL_CONFIG;
        return this;
    }

    /**
     * Same as {@link #setPoolConfig(PoolConfig)}.
     *
     * @param poolConfig the pool configuration; {@code null} for the default
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder poolConfig(PoolConfig poolConfig) {
        return setPoolConfig(poolConfig);
    }

    /**
     * Most connections in total (0, the default, keeps the pool configuration's {@code maxTotal},
     * as 0 keeps HttpClient's default in its builder). The per-route limit is not changed by it:
     * as in HttpClient, a per-route limit above the total is kept, and the total still caps
     * every route.
     *
     * @param maxConnTotal the limit, or 0
     * @return this builder
     * @throws IllegalArgumentException if {@code maxConnTotal} is negative (HttpClient's builder
     *                                  ignores it silently)
     */
    public PortkeeperConnectionManagerBuilder setMaxConnTotal(int maxConnTotal) {
        this.maxConnTotal = notNegative("maxConnTotal", maxConnTotal);
        return this;
    }

    /**
     * Most connections per route (0, the default, keeps the pool configuration's
     * {@code maxPerEndpoint}, as 0 keeps HttpClient's default in its builder). The total limit is
     * not changed by it: a per-route limit above the total is kept, as in HttpClient, and the
     * total still caps every route.
     *
     * @param maxConnPerRoute the limit, or 0
     * @return this builder
     * @throws IllegalArgumentException if {@code maxConnPerRoute} is negative (HttpClient's
     *                                  builder ignores it silently)
     */
    public PortkeeperConnectionManagerBuilder setMaxConnPerRoute(int maxConnPerRoute) {
        this.maxConnPerRoute = notNegative("maxConnPerRoute", maxConnPerRoute);
        return this;
    }

    private static int notNegative(String setting, int value) {
        if (value < 0) {
            throw new IllegalArgumentException(setting + " must not be negative, but was " + value);
        }
        return value;
    }

    /**
     * Connect and socket timeouts, time to live, idle timeout and validation after inactivity, as
     * in HttpClient. Default {@link ConnectionConfig#DEFAULT}. A time to live or idle timeout
     * retires a connection by the pool's policy rather than closing it here; validation after
     * inactivity is off unless set (the pool watches idle connections without a blocking read).
     *
     * @param config the connection configuration for every route the resolver does not cover;
     *               {@code null} for {@link ConnectionConfig#DEFAULT}, as in HttpClient
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setDefaultConnectionConfig(ConnectionConfig config) {
        this.connectionConfig = config != null ? config : ConnectionConfig.DEFAULT;
        return this;
    }

    /**
     * Connection configuration per route; where it returns null the default applies.
     *
     * @param resolver the resolver
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setConnectionConfigResolver(Resolver<HttpRoute, ConnectionConfig> resolver) {
        this.connectionConfigResolver = resolver;
        return this;
    }

    /**
     * Socket options (so-timeout, keep-alive, buffers, SOCKS proxy). The so-timeout is restored
     * every time a pooled connection is reused. Default {@link SocketConfig#DEFAULT}.
     *
     * @param config the socket configuration for every route the resolver does not cover;
     *               {@code null} for {@link SocketConfig#DEFAULT}, as in HttpClient
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setDefaultSocketConfig(SocketConfig config) {
        this.socketConfig = config != null ? config : SocketConfig.DEFAULT;
        return this;
    }

    /**
     * Socket configuration per route; where it returns null the default applies.
     *
     * @param resolver the resolver
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setSocketConfigResolver(Resolver<HttpRoute, SocketConfig> resolver) {
        this.socketConfigResolver = resolver;
        return this;
    }

    /**
     * TLS versions, handshake timeout and HTTP version policy. Default {@link TlsConfig#DEFAULT}.
     *
     * @param config the TLS configuration for every host the resolver does not cover;
     *               {@code null} for {@link TlsConfig#DEFAULT}, as in HttpClient
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setDefaultTlsConfig(TlsConfig config) {
        this.tlsConfig = config != null ? config : TlsConfig.DEFAULT;
        return this;
    }

    /**
     * TLS configuration per target host; where it returns null the default applies.
     *
     * @param resolver the resolver
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setTlsConfigResolver(Resolver<HttpHost, TlsConfig> resolver) {
        this.tlsConfigResolver = resolver;
        return this;
    }

    /**
     * TLS for https routes. Default: HttpClient's default (the JDK's trust store, hostname
     * verification), or the system properties' with {@link #useSystemProperties()}.
     *
     * @param tlsSocketStrategy the strategy
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setTlsSocketStrategy(TlsSocketStrategy tlsSocketStrategy) {
        this.tlsSocketStrategy = tlsSocketStrategy;
        return this;
    }

    /**
     * Resolves host names. Default: the system resolver.
     *
     * @param dnsResolver the resolver
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setDnsResolver(DnsResolver dnsResolver) {
        this.dnsResolver = dnsResolver;
        return this;
    }

    /**
     * Resolves default ports of schemes. Default: HttpClient's (80, 443).
     *
     * @param schemePortResolver the resolver
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setSchemePortResolver(SchemePortResolver schemePortResolver) {
        this.schemePortResolver = schemePortResolver;
        return this;
    }

    /**
     * HTTP/1.1 message limits (line length, header count, buffer size). Default {@link Http1Config#DEFAULT}.
     *
     * @param http1Config the configuration; {@code null} for {@link Http1Config#DEFAULT}, as
     *                    HttpClient's connection factory takes it
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setHttp1Config(Http1Config http1Config) {
        this.http1Config = http1Config != null ? http1Config : Http1Config.DEFAULT;
        return this;
    }

    /**
     * Accepted for source compatibility with HttpClient's builder, and ignored: Portkeeper has one
     * pool engine, lock-free on the lease path, for what STRICT and LAX choose between.
     *
     * @param policy ignored, whatever it is (null included)
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder setPoolConcurrencyPolicy(PoolConcurrencyPolicy policy) {
        return this;
    }

    /**
     * Portkeeper always reuses the most recently used connection first ({@link PoolReusePolicy#LIFO}):
     * hot connections stay hot and the surplus sits idle until the server times it out, which is
     * how the server gets to close first. {@link PoolReusePolicy#FIFO} is refused.
     *
     * @param policy must be {@code LIFO} (or null)
     * @return this builder
     * @throws IllegalArgumentException for {@code FIFO}
     */
    public PortkeeperConnectionManagerBuilder setConnPoolPolicy(PoolReusePolicy policy) {
        if (policy == PoolReusePolicy.FIFO) {
            throw new IllegalArgumentException("connPoolPolicy must be LIFO or null (Portkeeper reuses the most recently used "
                    + "connection first, so surplus connections idle out and the server closes them), but was " + policy);
        }
        return this;
    }

    /**
     * Takes the default TLS settings from the system properties, as HttpClient's builder does:
     * without {@link #setTlsSocketStrategy}, TLS is HttpClient's
     * {@code DefaultClientTlsStrategy.createSystemDefault()}: the JDK's default SSL context (key and
     * trust stores from {@code javax.net.ssl.*}) with the protocols and cipher suites of
     * {@code https.protocols} and {@code https.cipherSuites}, read by {@link #build()}.
     *
     * @return this builder
     */
    public PortkeeperConnectionManagerBuilder useSystemProperties() {
        this.systemProperties = true;
        return this;
    }

    /**
     * Builds the manager and its pool.
     *
     * @return the manager
     */
    public PortkeeperConnectionManager build() {
        PoolConfig config = poolConfig;
        int perRoute = maxConnPerRoute > 0 ? maxConnPerRoute : config.maxPerEndpoint();
        int total = maxConnTotal > 0 ? maxConnTotal : config.maxTotal();
        if (maxConnTotal > 0 || maxConnPerRoute > 0) {
            // A PoolConfig needs the total to be at least the per-route limit; HttpClient's builder
            // sets the two apart and keeps a per-route limit above the total, so that one is set
            // on the pool once it is built (the pool allows it at run time; both limits apply).
            config = config.toBuilder().maxPerEndpoint(Math.min(perRoute, total)).maxTotal(total).build();
        }
        TlsSocketStrategy tls = tlsSocketStrategy != null ? tlsSocketStrategy
                : systemProperties ? DefaultClientTlsStrategy.createSystemDefault() : DefaultClientTlsStrategy.createDefault();
        SchemePortResolver ports = schemePortResolver != null ? schemePortResolver : DefaultSchemePortResolver.INSTANCE;
        PortkeeperConnectionManager manager = new PortkeeperConnectionManager(this, config, tls, ports);
        if (perRoute > total) {
            manager.setDefaultMaxPerRoute(perRoute);
        }
        return manager;
    }
}
