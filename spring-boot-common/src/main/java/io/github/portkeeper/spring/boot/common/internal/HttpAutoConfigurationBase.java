package io.github.portkeeper.spring.boot.common.internal;

import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;

/**
 * The beans of each starter's {@code PortkeeperHttpAutoConfiguration} that are the same on every
 * Boot line: the primary {@link PortkeeperConnectionManager} and a {@link CloseableHttpClient} on
 * it. The starter's class adds its ordering before Boot's HTTP client auto-configuration and the
 * {@code ClientHttpRequestFactoryBuilder}, whose Boot types differ between lines.
 */
public abstract class HttpAutoConfigurationBase {

    /** For the starters' auto-configurations. */
    protected HttpAutoConfigurationBase() {
    }

    /** The pool behind every Portkeeper HTTP client of the application; closed with the context. */
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    PortkeeperConnectionManager portkeeperConnectionManager(PortkeeperProperties properties, PortkeeperPools pools) {
        return PortkeeperBeans.connectionManager(properties, pools);
    }

    /**
     * A standard {@link CloseableHttpClient} on the pool, for code that uses HttpClient directly.
     * It shares the manager bean (closing the client leaves the pool open for the others). Backs off
     * when the application defines several managers and none of them is primary.
     */
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean(CloseableHttpClient.class)
    @Conditional(OnUnambiguousConnectionManagerCondition.class)
    CloseableHttpClient portkeeperHttpClient(PortkeeperConnectionManager manager, PortkeeperProperties properties,
            PortkeeperPools pools) {
        return PortkeeperBeans.httpClient(manager, properties, pools);
    }
}
