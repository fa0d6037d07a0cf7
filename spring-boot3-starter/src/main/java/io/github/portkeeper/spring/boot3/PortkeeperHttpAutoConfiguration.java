package io.github.portkeeper.spring.boot3;

import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import io.github.portkeeper.spring.boot.common.internal.HttpManagers;
import io.github.portkeeper.spring.boot.common.internal.PortkeeperBeans;
import io.github.portkeeper.spring.boot3.internal.OnHttpComponentsFactoryCondition;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.HttpComponentsClientHttpRequestFactoryBuilder;
import org.springframework.boot.autoconfigure.http.client.ClientHttpRequestFactoryBuilderCustomizer;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.util.LambdaSafe;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;

import java.util.List;

/**
 * The Portkeeper-pooled Apache HttpClient 5: a {@link PortkeeperConnectionManager}, a
 * {@link CloseableHttpClient} on it, and, where Spring Boot's HTTP client support is present, a
 * {@link ClientHttpRequestFactoryBuilder} so that Boot's {@code RestClient.Builder},
 * {@code RestTemplateBuilder} and {@code ClientHttpRequestFactory} use the same pool.
 *
 * <p>Runs before Boot's {@code HttpClientAutoConfiguration}, whose own builder bean
 * then backs off. Each bean backs off for one the application defines; the whole of it with
 * {@code portkeeper.http.enabled=false}; the Boot builder alone with
 * {@code portkeeper.http.boot-clients=false} or when {@code spring.http.client.factory}
 * names another client.
 */
@AutoConfiguration(after = PortkeeperAutoConfiguration.class,
        beforeName = "org.springframework.boot.autoconfigure.http.client.HttpClientAutoConfiguration")
@ConditionalOnClass({CloseableHttpClient.class, PortkeeperConnectionManager.class})
@ConditionalOnBean(PortkeeperPools.class)
@ConditionalOnBooleanProperty(name = {"portkeeper.enabled", "portkeeper.http.enabled"}, matchIfMissing = true)
public final class PortkeeperHttpAutoConfiguration {

    /** Created by Spring Boot. */
    PortkeeperHttpAutoConfiguration() {
    }

    /** The pool behind every Portkeeper HTTP client of the application; closed with the context. */
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    PortkeeperConnectionManager portkeeperConnectionManager(PortkeeperProperties properties, PortkeeperPools pools) {
        return PortkeeperBeans.connectionManager(properties, pools);
    }

    /**
     * A standard {@link CloseableHttpClient} on the pool, for code that uses HttpClient directly.
     * It shares the manager bean (closing the client leaves the pool open for the others).
     */
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean(CloseableHttpClient.class)
    CloseableHttpClient portkeeperHttpClient(PortkeeperConnectionManager manager, PortkeeperProperties properties,
            PortkeeperPools pools) {
        return PortkeeperBeans.httpClient(manager, properties, pools);
    }

    /** Boot's HTTP client factory builder on the Portkeeper pool. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder",
            "org.springframework.http.client.HttpComponentsClientHttpRequestFactory"})
    @ConditionalOnBooleanProperty(name = "portkeeper.http.boot-clients", matchIfMissing = true)
    @Conditional(OnHttpComponentsFactoryCondition.class)
    static class BootClientsConfiguration {

        @Bean(destroyMethod = "close")
        @ConditionalOnMissingBean(ClientHttpRequestFactoryBuilder.class)
        PortkeeperClientHttpRequestFactoryBuilder portkeeperClientHttpRequestFactoryBuilder(PortkeeperConnectionManager manager,
                PortkeeperProperties properties, PortkeeperPools pools, ObjectProvider<SslBundles> sslBundles,
                ObjectProvider<ClientHttpRequestFactoryBuilderCustomizer<?>> customizers) {
            pools.register(manager.pool());
            HttpManagers managers = new HttpManagers(manager, name -> PortkeeperBeans.managerBuilder(properties, name), pools,
                    sslBundles.getIfAvailable());
            HttpComponentsClientHttpRequestFactoryBuilder delegate = customize(ClientHttpRequestFactoryBuilder.httpComponents(),
                    customizers.orderedStream().toList());
            return new PortkeeperClientHttpRequestFactoryBuilder(delegate, managers, PortkeeperBeans.installer(properties),
                    properties.getPool().getLeaseTimeout());
        }

        /**
         * Applies the application's {@link ClientHttpRequestFactoryBuilderCustomizer}s for the
         * HttpComponents builder, as Boot does to its own builder (which this one replaces).
         */
        @SuppressWarnings({"unchecked", "rawtypes"})
        private static HttpComponentsClientHttpRequestFactoryBuilder customize(HttpComponentsClientHttpRequestFactoryBuilder builder,
                List<ClientHttpRequestFactoryBuilderCustomizer<?>> customizers) {
            HttpComponentsClientHttpRequestFactoryBuilder[] ref = {builder};
            LambdaSafe.callbacks(ClientHttpRequestFactoryBuilderCustomizer.class, customizers, builder)
                    .invoke(c -> {
                        Object customized = c.customize(ref[0]);
                        if (!(customized instanceof HttpComponentsClientHttpRequestFactoryBuilder)) {
                            throw new IllegalStateException("A ClientHttpRequestFactoryBuilderCustomizer (" + c.getClass().getName()
                                    + ") replaced the HttpComponents builder with " + customized + "; to use another HTTP client,"
                                    + " set spring.http.client.factory or portkeeper.http.boot-clients=false");
                        }
                        ref[0] = (HttpComponentsClientHttpRequestFactoryBuilder) customized;
                    });
            return ref[0];
        }
    }
}
