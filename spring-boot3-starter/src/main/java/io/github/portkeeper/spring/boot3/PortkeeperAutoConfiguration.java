package io.github.portkeeper.spring.boot3;

import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import io.github.portkeeper.spring.boot.common.internal.PortkeeperBeans;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;

/**
 * Portkeeper's core beans: the {@code portkeeper.*} properties, the {@link PortkeeperPools}
 * registry, and the raw {@link SocketPool} when {@code portkeeper.socket-pool.enabled=true}.
 * Everything is off with {@code portkeeper.enabled=false}.
 */
@AutoConfiguration
@ConditionalOnBooleanProperty(name = "portkeeper.enabled", matchIfMissing = true)
@EnableConfigurationProperties(PortkeeperProperties.class)
public final class PortkeeperAutoConfiguration {

    /** Created by Spring Boot. */
    PortkeeperAutoConfiguration() {
    }

    @Bean
    @ConditionalOnMissingBean
    PortkeeperPools portkeeperPools() {
        return new PortkeeperPools();
    }

    /** The socket pool, opt-in; its pool has the {@code portkeeper.pool.*} limits and the socket pool's name. */
    @Bean(destroyMethod = "close")
    @ConditionalOnBooleanProperty(name = "portkeeper.socket-pool.enabled")
    @ConditionalOnMissingBean
    SocketPool portkeeperSocketPool(PortkeeperProperties properties, PortkeeperPools pools) {
        return PortkeeperBeans.socketPool(properties, pools);
    }
}
