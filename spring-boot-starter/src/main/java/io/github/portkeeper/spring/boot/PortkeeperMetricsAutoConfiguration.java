package io.github.portkeeper.spring.boot;

import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.github.portkeeper.spring.boot.common.PortkeeperMetrics;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.internal.ConditionalOnSwitch;
import io.github.portkeeper.spring.boot.common.internal.MetricsAutoConfigurationBase;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;

/**
 * The pools' Micrometer meters ({@code portkeeper.connections.opened},
 * {@code portkeeper.timewait.avoided}, ...; visible at {@code /actuator/metrics}) when the
 * application has a {@link MeterRegistry}. Backs off when the application defines its own
 * {@link PortkeeperMetrics} or any {@link PoolMetrics} bean (binding a pool twice would count its
 * events twice), and with {@code portkeeper.metrics.enabled=false}.
 */
@AutoConfiguration(after = {PortkeeperAutoConfiguration.class, PortkeeperHttpAutoConfiguration.class},
        afterName = {"org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
                "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration",
                "org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration"})
@ConditionalOnClass(MeterRegistry.class)
@ConditionalOnBean({MeterRegistry.class, PortkeeperPools.class})
@ConditionalOnSwitch(value = {"portkeeper.enabled", "portkeeper.metrics.enabled"}, matchIfMissing = true)
public final class PortkeeperMetricsAutoConfiguration extends MetricsAutoConfigurationBase {

    /** Created by Spring Boot. */
    PortkeeperMetricsAutoConfiguration() {
    }
}
