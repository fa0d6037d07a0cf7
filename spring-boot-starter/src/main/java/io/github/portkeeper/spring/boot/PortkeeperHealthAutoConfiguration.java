package io.github.portkeeper.spring.boot;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import io.github.portkeeper.spring.boot.common.internal.ConditionalOnSwitch;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;

/**
 * The {@code portkeeper} health indicator when Spring Boot's health support is present. Off with
 * {@code management.health.portkeeper.enabled=false}; backs off for a bean named
 * {@code portkeeperHealthIndicator} or of type {@link PortkeeperHealthIndicator}.
 */
@AutoConfiguration(after = {PortkeeperAutoConfiguration.class, PortkeeperHttpAutoConfiguration.class},
        beforeName = "org.springframework.boot.health.autoconfigure.contributor.HealthContributorAutoConfiguration")
@ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
@ConditionalOnSwitch(value = "portkeeper.enabled", matchIfMissing = true)
@ConditionalOnBean(PortkeeperPools.class)
public final class PortkeeperHealthAutoConfiguration {

    /** Created by Spring Boot. */
    PortkeeperHealthAutoConfiguration() {
    }

    // On the method, not the class: the condition's class must only be loaded once
    // @ConditionalOnClass has found spring-boot-health.
    @Bean
    @ConditionalOnEnabledHealthIndicator("portkeeper")
    @ConditionalOnMissingBean(name = "portkeeperHealthIndicator", value = PortkeeperHealthIndicator.class)
    PortkeeperHealthIndicator portkeeperHealthIndicator(PortkeeperPools pools, PortkeeperProperties properties) {
        return new PortkeeperHealthIndicator(pools, KernelProbe.linux(), properties.getHealth().getWarnRatio());
    }
}
