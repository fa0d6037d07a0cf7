package io.github.portkeeper.spring.boot3;

import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.spring.boot.common.PortkeeperMetrics;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.actuate.autoconfigure.metrics.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.metrics.MetricsAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.metrics.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.http.client.HttpClientAutoConfiguration;
import org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.core.env.MapPropertySource;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Portkeeper's {@code enabled} switches mean to the beans what they mean to the checks of the
 * properties: every spelling Boot's binder reads as a boolean ({@code yes}, {@code on}, {@code 1},
 * {@code true } with a trailing blank...) switches the beans the same way, and a value that is no
 * boolean fails startup naming the property and the value (Boot 3.5).
 */
class EnabledSwitchesTest {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(
                    PortkeeperAutoConfiguration.class, PortkeeperHttpAutoConfiguration.class, PortkeeperMetricsAutoConfiguration.class,
                    HttpClientAutoConfiguration.class,
                    MetricsAutoConfiguration.class, SimpleMetricsExportAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class));

    /** The values exactly as written (a runner's property values would lose the trailing blank). */
    private ApplicationContextRunner with(Map<String, Object> properties) {
        return runner.withInitializer(context -> context.getEnvironment().getPropertySources()
                .addFirst(new MapPropertySource("written", properties)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"true", "TRUE", "yes", "on", "1", "true "})
    void theSocketPoolIsOnForEverySpellingTheBinderReadsAsTrue(String on) {
        with(Map.of("portkeeper.socket-pool.enabled", on, "portkeeper.socket-pool.read-timeout", "5s")).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(PortkeeperProperties.class).getSocketPool().isEnabled()).isTrue();
            assertThat(context.getBean(PortkeeperProperties.class).getSocketPool().getReadTimeout()).isEqualTo(Duration.ofSeconds(5));
            assertThat(context).hasSingleBean(SocketPool.class);
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"yes", "on", "1", "true "})
    void everyOtherSwitchStaysOnForEverySpellingTheBinderReadsAsTrue(String on) {
        with(Map.of("portkeeper.enabled", on, "portkeeper.http.enabled", on, "portkeeper.http.boot-clients", on,
                "portkeeper.metrics.enabled", on)).run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context).hasSingleBean(PortkeeperPools.class);
                    assertThat(context).hasSingleBean(PortkeeperConnectionManager.class);
                    assertThat(context).getBean(ClientHttpRequestFactoryBuilder.class)
                            .isInstanceOf(PortkeeperClientHttpRequestFactoryBuilder.class);
                    assertThat(context).hasSingleBean(PortkeeperMetrics.class);
                });
    }

    @ParameterizedTest
    @ValueSource(strings = {"false", "no", "off", "0", "false "})
    void theHttpBeansAreOffForEverySpellingTheBinderReadsAsFalse(String off) {
        with(Map.of("portkeeper.http.enabled", off)).run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(PortkeeperProperties.class).getHttp().isEnabled()).isFalse();
            assertThat(context).doesNotHaveBean(PortkeeperConnectionManager.class);
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"portkeeper.enabled", "portkeeper.http.enabled", "portkeeper.socket-pool.enabled"})
    void aSwitchThatIsNoBooleanFailsStartupNamingThePropertyAndTheValue(String property) {
        with(Map.of(property, "maybe")).run(context -> {
            assertThat(context).hasFailed();
            assertThat(allMessages(context.getStartupFailure())).contains(property).contains("maybe");
        });
    }

    private static String allMessages(Throwable t) {
        StringBuilder out = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            out.append(c.getMessage()).append('\n');
        }
        return out.toString();
    }
}
