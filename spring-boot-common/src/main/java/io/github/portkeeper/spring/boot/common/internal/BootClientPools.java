package io.github.portkeeper.spring.boot.common.internal;

import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.http.internal.ManagerSettings;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.apache.hc.core5.util.Timeout;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.util.LambdaSafe;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Predicate;

/**
 * What each starter's {@code PortkeeperClientHttpRequestFactoryBuilder} does that does not
 * depend on the Boot line (whose client settings type and customizer package differ): the pool
 * each client's SSL bundle and address filter select, the timeouts that travel with each request,
 * and installing the pool into the {@link HttpClientBuilder} Boot made.
 *
 * <p>Thread-safe; closing it closes the pools it created for SSL bundles and address filters
 * (the primary manager is a bean of its own).
 */
public final class BootClientPools implements AutoCloseable {

    private final HttpManagers managers;
    private final HttpClientInstaller installer;

    private BootClientPools(HttpManagers managers, HttpClientInstaller installer) {
        this.managers = managers;
        this.installer = installer;
    }

    /**
     * The pools of Boot-built clients: {@code primary} for clients with neither SSL bundle nor
     * address filter, one more per combination, all registered with {@code pools}. Those take
     * the primary manager's pool settings and its default socket and connection configs (a
     * manager of the application's own is the pool behind Boot's clients, so its limits and
     * timeouts hold for all of them). For the starter's own manager those configs come from
     * {@code portkeeper.http.*}.
     *
     * @param primary    the connection manager bean
     * @param properties the settings
     * @param pools      where the pools are registered
     * @param sslBundles Boot's SSL bundles, or null
     * @return the pools
     */
    public static BootClientPools of(PortkeeperConnectionManager primary, PortkeeperProperties properties, PortkeeperPools pools,
            SslBundles sslBundles) {
        pools.register(primary.pool());
        HttpManagers managers = new HttpManagers(primary, name -> PortkeeperConnectionManager.builder()
                .poolConfig(primary.pool().config().toBuilder().name(name).build())
                .setDefaultSocketConfig(primary.getDefaultSocketConfig())
                .setDefaultConnectionConfig(ManagerSettings.defaultConnectionConfig(primary)), pools, sslBundles);
        return new BootClientPools(managers, PortkeeperBeans.installer(properties));
    }

    /**
     * The manager for clients with this SSL bundle and address filter (see {@link HttpManagers}).
     *
     * @param bundle  the SSL bundle, or null
     * @param filter  the address filter as Boot holds it, or null
     * @param accepts whether the filter accepts an address, or null
     * @return the manager
     */
    public PortkeeperConnectionManager managerFor(SslBundle bundle, Object filter, Predicate<InetAddress> accepts) {
        return managers.managerFor(bundle, filter, accepts);
    }

    /**
     * Installs {@code manager} into a client builder Boot made (see {@link HttpClientInstaller}).
     *
     * @param builder Boot's HttpClient builder
     * @param manager the pool for the client
     */
    public void install(HttpClientBuilder builder, PortkeeperConnectionManager manager) {
        installer.install(builder, manager);
    }

    /**
     * Puts Boot's connect and read timeouts into a client's default request config. The wait for
     * a connection is left alone: where nobody set it, the installer's {@link
     * io.github.portkeeper.http.internal.LeaseTimeoutDefault} makes it the lease timeout of the
     * client's own pool; a timeout the application set, even to HttpClient's 3 minutes, is kept.
     *
     * @param config         the client's default request config
     * @param connectTimeout Boot's connect timeout, or null
     * @param readTimeout    Boot's read timeout, or null
     */
    // RequestConfig's connect timeout is deprecated in favour of the connection manager's
    // ConnectionConfig; but one pool serves clients with different connect timeouts, so the
    // timeout must travel with the request. HttpClient still honours it (InternalExecRuntime
    // passes it to HttpClientConnectionManager.connect).
    @SuppressWarnings("deprecation")
    public void applyTimeouts(RequestConfig.Builder config, Duration connectTimeout, Duration readTimeout) {
        if (connectTimeout != null) {
            config.setConnectTimeout(Timeout.of(connectTimeout));
        }
        // Per request; a connection given back is passivated (socket timeout reset), and the pool
        // applies its own socket timeout (its ConnectionConfig's) on each lease, so it does not stick
        // to the connection.
        if (readTimeout != null) {
            config.setResponseTimeout(Timeout.of(readTimeout));
        }
    }

    /**
     * Applies the application's builder customizers to the HttpComponents builder, as Boot does to
     * its own builder (which the starter's replaces): only those whose generic type accepts it
     * ({@link LambdaSafe}); one that returns another kind of builder is an error naming the
     * settings that choose another client.
     *
     * @param customizerType  Boot's {@code ClientHttpRequestFactoryBuilderCustomizer} of this line
     * @param customizers     the application's customizers, in order
     * @param builder         the HttpComponents builder
     * @param builderType     the HttpComponents builder's type
     * @param customize       calls one customizer on a builder
     * @param factoryProperty Boot's property that selects the client factory on this line
     * @param <C>             the customizer type
     * @param <B>             the builder type
     * @return the customized builder
     */
    public static <C, B> B customize(Class<C> customizerType, List<? extends C> customizers, B builder, Class<B> builderType,
            BiFunction<C, B, Object> customize, String factoryProperty) {
        Object[] ref = {builder};
        LambdaSafe.callbacks(customizerType, customizers, builder)
                .invoke(c -> {
                    Object customized = customize.apply(c, builderType.cast(ref[0]));
                    if (!builderType.isInstance(customized)) {
                        throw new IllegalStateException("A " + customizerType.getSimpleName() + " (" + c.getClass().getName()
                                + ") replaced the HttpComponents builder with " + customized + "; to use another HTTP client,"
                                + " set " + factoryProperty + " or portkeeper.http.boot-clients=false");
                    }
                    ref[0] = customized;
                });
        return builderType.cast(ref[0]);
    }

    /** Closes the pools created for SSL bundles and address filters. */
    @Override
    public void close() {
        managers.close();
    }
}
