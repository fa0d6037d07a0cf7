package io.github.portkeeper.spring.boot;

import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.spring.boot.common.internal.BootClientPools;
import io.github.portkeeper.spring.boot.internal.AddressFilters;
import org.apache.hc.client5.http.config.RequestConfig;
import org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.HttpClientSettings;
import org.springframework.boot.http.client.HttpComponentsClientHttpRequestFactoryBuilder;
import org.springframework.http.client.HttpComponentsClientHttpRequestFactory;

import java.util.Objects;

/**
 * Spring Boot's HttpComponents {@link ClientHttpRequestFactoryBuilder} with the Portkeeper pool
 * in place of HttpClient's: the builder behind Boot's auto-configured {@code RestClient.Builder},
 * {@code RestTemplateBuilder} and {@code ClientHttpRequestFactory}.
 *
 * <p>Each {@link #build(HttpClientSettings)} lets Boot's
 * {@link HttpComponentsClientHttpRequestFactoryBuilder} build the client as usual (redirects,
 * cookie handling, the application's {@code ClientHttpRequestFactoryBuilderCustomizer}s and
 * HttpClient customizers), then, through
 * {@link HttpComponentsClientHttpRequestFactoryBuilder#withHttpClientCustomizer}, gives it the
 * shared {@link PortkeeperConnectionManager}. The settings that Boot would put on its own
 * connection manager travel as follows:
 * <ul>
 *   <li>connect and read timeouts ({@code spring.http.clients.connect-timeout},
 *       {@code read-timeout}, {@code RestTemplateBuilder.connectTimeout(...)}) go into the
 *       client's default {@link RequestConfig}, so clients with different timeouts share one pool;</li>
 *   <li>an SSL bundle or (Boot 4.1) an {@code InetAddressFilter} selects a pool of its own (a
 *       connection never serves another TLS identity), named after the primary pool and the bundle.</li>
 * </ul>
 * The lease timeout of the client's pool ({@code portkeeper.pool.lease-timeout}, or the
 * {@code leaseTimeout} of a {@code PortkeeperConnectionManager} of the application's own) bounds
 * the wait for a connection, unless a customizer set HttpClient's connection request timeout
 * (even to its default of 3 minutes).
 *
 * <p>Immutable and thread-safe; every client it builds uses the same pools. Closing it closes
 * the pools it created for SSL bundles (the primary manager is a bean of its own).
 */
public final class PortkeeperClientHttpRequestFactoryBuilder
        implements ClientHttpRequestFactoryBuilder<HttpComponentsClientHttpRequestFactory>, AutoCloseable {

    private final HttpComponentsClientHttpRequestFactoryBuilder delegate;
    private final BootClientPools pools;

    PortkeeperClientHttpRequestFactoryBuilder(HttpComponentsClientHttpRequestFactoryBuilder delegate, BootClientPools pools) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.pools = pools;
    }

    /**
     * Builds a request factory on the Portkeeper pool.
     *
     * @param settings Boot's client settings; null for the defaults
     * @return a factory whose client uses the pool of the settings' SSL bundle
     */
    @Override
    public HttpComponentsClientHttpRequestFactory build(HttpClientSettings settings) {
        HttpClientSettings s = settings != null ? settings : HttpClientSettings.defaults();
        PortkeeperConnectionManager manager = managerFor(s);
        return delegate
                .withDefaultRequestConfigCustomizer(config -> pools.applyTimeouts(config, s.connectTimeout(), s.readTimeout()))
                .withHttpClientCustomizer(builder -> pools.install(builder, manager))
                .build(s);
    }

    /**
     * The connection manager clients built with {@code settings} use.
     *
     * @param settings Boot's client settings; null for the defaults
     * @return the manager of the settings' SSL bundle and address filter
     */
    public PortkeeperConnectionManager connectionManager(HttpClientSettings settings) {
        return managerFor(settings != null ? settings : HttpClientSettings.defaults());
    }

    private PortkeeperConnectionManager managerFor(HttpClientSettings s) {
        Object filter = AddressFilters.filter(s);
        return pools.managerFor(s.sslBundle(), filter, AddressFilters.accepts(filter));
    }

    /**
     * Boot's builder underneath, with the application's customizers applied.
     *
     * @return the HttpComponents builder this one wraps
     */
    public HttpComponentsClientHttpRequestFactoryBuilder delegate() {
        return delegate;
    }

    /** Closes the pools created for SSL bundles and address filters. */
    @Override
    public void close() {
        pools.close();
    }

    @Override
    public String toString() {
        return "PortkeeperClientHttpRequestFactoryBuilder[" + connectionManager(HttpClientSettings.defaults()) + "]";
    }
}
