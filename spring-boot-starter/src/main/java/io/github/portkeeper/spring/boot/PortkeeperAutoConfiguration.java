package io.github.portkeeper.spring.boot;

import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import io.github.portkeeper.spring.boot.common.internal.ConditionalOnSwitch;
import io.github.portkeeper.spring.boot.common.internal.CoreAutoConfigurationBase;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.context.properties.EnableConfigurationProperties;

/**
 * Portkeeper's core beans: the {@code portkeeper.*} properties, the {@link PortkeeperPools}
 * registry, and the raw {@link SocketPool} when {@code portkeeper.socket-pool.enabled=true}.
 * Everything is off with {@code portkeeper.enabled=false}. The beans are the same on every Boot
 * line ({@link CoreAutoConfigurationBase}).
 */
@AutoConfiguration
@ConditionalOnSwitch(value = "portkeeper.enabled", matchIfMissing = true)
@EnableConfigurationProperties(PortkeeperProperties.class)
public final class PortkeeperAutoConfiguration extends CoreAutoConfigurationBase {

    /** Created by Spring Boot. */
    PortkeeperAutoConfiguration() {
    }
}
