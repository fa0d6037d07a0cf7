package io.github.portkeeper.spring.boot.common.internal;

import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.spring.boot.common.PortkeeperMetrics;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * The bean of each starter's {@code PortkeeperMetricsAutoConfiguration}, the same on every Boot
 * line: the {@link PortkeeperMetrics} binder, unless the application binds the pools itself (a
 * {@link PortkeeperMetrics} or any {@link PoolMetrics} bean: binding a pool twice would count its
 * events twice). The starter's class adds its ordering after Boot's metrics auto-configurations,
 * whose names differ between Boot lines.
 */
public abstract class MetricsAutoConfigurationBase {

    /** For the starters' auto-configurations. */
    protected MetricsAutoConfigurationBase() {
    }

    @Bean
    @ConditionalOnMissingBean({PortkeeperMetrics.class, PoolMetrics.class})
    PortkeeperMetrics portkeeperMetrics(PortkeeperPools pools, PortkeeperProperties properties) {
        return new PortkeeperMetrics(pools, properties.getMetrics().isEndpointTag());
    }
}
