package io.github.portkeeper.spring.boot;

import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import io.github.portkeeper.spring.boot.common.internal.BootClientPools;
import io.github.portkeeper.spring.boot.common.internal.ConditionalOnSwitch;
import io.github.portkeeper.spring.boot.common.internal.HttpAutoConfigurationBase;
import io.github.portkeeper.spring.boot.common.internal.OnUnambiguousConnectionManagerCondition;
import io.github.portkeeper.spring.boot.internal.OnHttpComponentsFactoryCondition;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.HttpComponentsClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.autoconfigure.ClientHttpRequestFactoryBuilderCustomizer;
import org.springframework.boot.ssl.SslBundles;
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
 * <p>Runs before Boot's {@code ImperativeHttpClientAutoConfiguration}, whose own builder bean
 * then backs off. Each bean backs off for one the application defines; the whole of it with
 * {@code portkeeper.http.enabled=false}; the Boot builder alone with
 * {@code portkeeper.http.boot-clients=false} or when {@code spring.http.clients.imperative.factory}
 * names another client. The client and the builder also back off when the application defines
 * several {@link PortkeeperConnectionManager}s and none of them is primary.
 */
@AutoConfiguration(after = PortkeeperAutoConfiguration.class,
        beforeName = "org.springframework.boot.http.client.autoconfigure.imperative.ImperativeHttpClientAutoConfiguration")
@ConditionalOnClass({CloseableHttpClient.class, PortkeeperConnectionManager.class})
@ConditionalOnBean(PortkeeperPools.class)
@ConditionalOnSwitch(value = {"portkeeper.enabled", "portkeeper.http.enabled"}, matchIfMissing = true)
public final class PortkeeperHttpAutoConfiguration extends HttpAutoConfigurationBase {

    /** Created by Spring Boot. */
    PortkeeperHttpAutoConfiguration() {
    }

    /** Boot's HTTP client factory builder on the Portkeeper pool. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder",
            "org.springframework.http.client.HttpComponentsClientHttpRequestFactory"})
    @ConditionalOnSwitch(value = "portkeeper.http.boot-clients", matchIfMissing = true)
    @Conditional(OnHttpComponentsFactoryCondition.class)
    static class BootClientsConfiguration {

        @Bean(destroyMethod = "close")
        @ConditionalOnMissingBean(ClientHttpRequestFactoryBuilder.class)
        @Conditional(OnUnambiguousConnectionManagerCondition.class)
        PortkeeperClientHttpRequestFactoryBuilder portkeeperClientHttpRequestFactoryBuilder(PortkeeperConnectionManager manager,
                PortkeeperProperties properties, PortkeeperPools pools, ObjectProvider<SslBundles> sslBundles,
                ObjectProvider<ClientHttpRequestFactoryBuilderCustomizer<?>> customizers) {
            HttpComponentsClientHttpRequestFactoryBuilder delegate = customize(ClientHttpRequestFactoryBuilder.httpComponents(),
                    customizers.orderedStream().toList());
            return new PortkeeperClientHttpRequestFactoryBuilder(delegate,
                    BootClientPools.of(manager, properties, pools, sslBundles.getIfAvailable()));
        }

        /**
         * Applies the application's {@link ClientHttpRequestFactoryBuilderCustomizer}s for the
         * HttpComponents builder, as Boot does to its own builder (which this one replaces).
         */
        @SuppressWarnings("unchecked")
        private static HttpComponentsClientHttpRequestFactoryBuilder customize(HttpComponentsClientHttpRequestFactoryBuilder builder,
                List<ClientHttpRequestFactoryBuilderCustomizer<?>> customizers) {
            return BootClientPools.customize(ClientHttpRequestFactoryBuilderCustomizer.class, customizers, builder,
                    HttpComponentsClientHttpRequestFactoryBuilder.class, (c, b) -> c.customize(b), OnHttpComponentsFactoryCondition.PROPERTY);
        }
    }
}
