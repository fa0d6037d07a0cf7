package io.github.portkeeper.core;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PoolConfigTest {

    @Test
    void badValuesAreRejectedNamingTheSettingTheRuleAndTheValue() {
        assertThatThrownBy(() -> PoolConfig.builder().maxPerEndpoint(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxPerEndpoint must be at least 1, but was 0");
        assertThatThrownBy(() -> PoolConfig.builder().maxTotal(-3).build())
                .hasMessage("maxTotal must be at least 1, but was -3");
        assertThatThrownBy(() -> PoolConfig.builder().maxPerEndpoint(10).maxTotal(5).build())
                .hasMessage("maxTotal must be at least maxPerEndpoint (10), but was 5");
        assertThatThrownBy(() -> PoolConfig.builder().leaseTimeout(Duration.ZERO).build())
                .hasMessage("leaseTimeout must be positive, but was PT0S");
        assertThatThrownBy(() -> PoolConfig.builder().maxIdleTime(Duration.ofSeconds(-1)).build())
                .hasMessage("maxIdleTime must be positive, but was PT-1S");
        assertThatThrownBy(() -> PoolConfig.builder().leakDetectionThreshold(Duration.ofMillis(-5)).build())
                .hasMessage("leakDetectionThreshold must not be negative, but was PT-0.005S");
        assertThatThrownBy(() -> PoolConfig.builder().maxLifetime(Duration.ofMinutes(1)).lifetimeJitter(Duration.ofMinutes(1)).build())
                .hasMessage("lifetimeJitter must be less than maxLifetime (PT1M), but was PT1M");
        assertThatThrownBy(() -> PoolConfig.builder().name(" ").build())
                .hasMessage("name must not be blank, but was ' '");
        assertThatThrownBy(() -> Retirement.awaitPeer(Duration.ZERO))
                .hasMessage("retirement drainTimeout must be positive, but was PT0S");
        assertThatThrownBy(() -> Retirement.awaitPeer(Duration.ofSeconds(1)).withFallback(Ending.PEER))
                .hasMessage("retirement fallback must be RESET or LOCAL, but was PEER");
        assertThatThrownBy(() -> Endpoint.of("h", 0)).hasMessage("port must be between 1 and 65535, but was 0");
    }

    @Test
    void durationsTooLongForTheNanosecondClockAreRejectedByBuildNamingTheSettingAndTheLimit() {
        Duration tooLong = Duration.ofSeconds(Long.MAX_VALUE);
        String rule = " must be at most PT2562047H47M16.854775807S, but was " + tooLong;
        assertThatThrownBy(() -> PoolConfig.builder().maxLifetime(tooLong).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxLifetime" + rule);
        assertThatThrownBy(() -> PoolConfig.builder().maxIdleTime(tooLong).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxIdleTime" + rule);
        assertThatThrownBy(() -> PoolConfig.builder().housekeepingInterval(tooLong).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("housekeepingInterval" + rule);
        assertThatThrownBy(() -> PoolConfig.builder().leakDetectionThreshold(tooLong).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("leakDetectionThreshold" + rule);
        assertThatThrownBy(() -> PoolConfig.builder().idleTimeoutMargin(tooLong).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("idleTimeoutMargin" + rule);
        // The longest the clock holds is accepted, and a pool is built from it.
        Duration longest = Duration.ofNanos(Long.MAX_VALUE);
        PoolConfig config = PoolConfig.builder().maxLifetime(longest).maxIdleTime(longest).housekeepingInterval(longest)
                .leakDetectionThreshold(longest).idleTimeoutMargin(longest).build();
        Pool.of(new io.github.portkeeper.core.testing.StubConnector(), config).close();
    }

    @Test
    void waitAtMostTimeoutsTooLongForTheNanosecondClockAreAccepted() {
        Duration tooLong = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
        PoolConfig config = PoolConfig.builder().leaseTimeout(tooLong).retirement(Retirement.awaitPeer(tooLong)).build();
        assertThat(config.leaseTimeout()).isEqualTo(tooLong);
        assertThat(config.retirement().drainTimeout()).isEqualTo(tooLong);
        Pool.of(new io.github.portkeeper.core.testing.StubConnector(), config).close();
    }

    @Test
    void toBuilderKeepsDerivingTheJitterFromTheLifetimeUnlessItWasSet() {
        PoolConfig shorter = PoolConfig.defaults().toBuilder().maxLifetime(Duration.ofMinutes(1)).build();
        assertThat(shorter.lifetimeJitter()).isEqualTo(Duration.ofSeconds(6));
        PoolConfig explicit = PoolConfig.builder().lifetimeJitter(Duration.ofSeconds(5)).build();
        assertThat(explicit.toBuilder().maxLifetime(Duration.ofMinutes(1)).build().lifetimeJitter()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void defaultsAreDocumentedValues() {
        PoolConfig c = PoolConfig.defaults();
        assertThat(c.maxPerEndpoint()).isEqualTo(8);
        assertThat(c.maxTotal()).isEqualTo(64);
        assertThat(c.leaseTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(c.maxLifetime()).isEqualTo(Duration.ofMinutes(30));
        assertThat(c.lifetimeJitter()).isEqualTo(Duration.ofMinutes(3));
        assertThat(c.maxIdleTime()).isEqualTo(Duration.ofMinutes(2));
        assertThat(c.leakDetectionThreshold()).isZero();
        assertThat(c.retirement().policy()).isEqualTo(Retirement.Policy.AWAIT_PEER);
        assertThat(c.retirement().fallback()).isEqualTo(Ending.RESET);
        assertThat(c.toBuilder().build().toString()).isEqualTo(c.toString());
    }
}
