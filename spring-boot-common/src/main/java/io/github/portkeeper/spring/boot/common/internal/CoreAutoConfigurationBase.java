package io.github.portkeeper.spring.boot.common.internal;

import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * The beans of each starter's {@code PortkeeperAutoConfiguration}, the same on every Boot line:
 * the {@link PortkeeperPools} registry and the opt-in {@link SocketPool}. A starter's class
 * extends this one and adds only its registration and conditions (Spring reads {@code @Bean}
 * methods of superclasses; no bean is added for this class).
 */
public abstract class CoreAutoConfigurationBase {

    /** For the starters' auto-configurations. */
    protected CoreAutoConfigurationBase() {
    }

    @Bean
    @ConditionalOnMissingBean
    PortkeeperPools portkeeperPools() {
        return new PortkeeperPools();
    }

    /** The socket pool, opt-in; its pool has the {@code portkeeper.pool.*} limits and the socket pool's name. */
    @Bean(destroyMethod = "close")
    @ConditionalOnSwitch("portkeeper.socket-pool.enabled")
    @ConditionalOnMissingBean
    SocketPool portkeeperSocketPool(PortkeeperProperties properties, PortkeeperPools pools) {
        return PortkeeperBeans.socketPool(properties, pools);
    }
}
