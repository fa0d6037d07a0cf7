package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link PortkeeperHttpClients.Builder} refuses settings that would have no effect, naming both
 * sides, and keeps working with either side alone; {@code null} means the default, as in
 * {@link PortkeeperConnectionManagerBuilder} and HttpClient's builders.
 */
class ClientBuilderSettingsTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private PortkeeperConnectionManager manager(String name) {
        return leaks.closeAfter(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name(name).build()).build());
    }

    @Test
    void poolConfigTogetherWithAGivenConnectionManagerFailsNamingBoth() {
        PortkeeperConnectionManager given = manager("given");
        PortkeeperHttpClients.Builder b = PortkeeperHttpClients.custom()
                .connectionManager(given)
                .poolConfig(PoolConfig.builder().name("ignored").build());

        assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("poolConfig must not be set together with connectionManager")
                .hasMessageContaining("but poolConfig was PoolConfig{name=ignored");
    }

    @Test
    void connectionAndTlsSettingsTogetherWithAGivenConnectionManagerFailNamingEach() {
        PortkeeperConnectionManager given = manager("given-tls");
        ConnectionConfig connection = ConnectionConfig.custom().setConnectTimeout(Timeout.ofSeconds(3)).build();
        PortkeeperHttpClients.Builder b = PortkeeperHttpClients.custom()
                .connectionConfig(connection)
                .tlsSocketStrategy(DefaultClientTlsStrategy.createDefault())
                .connectionManager(given);

        assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("connectionConfig and tlsSocketStrategy must not be set together with connectionManager")
                .hasMessageContaining("but connectionConfig was " + connection + " and tlsSocketStrategy was ");
    }

    @Test
    void aGivenConnectionManagerAloneOrPoolSettingsAloneStillBuild() throws Exception {
        PortkeeperConnectionManager given = manager("given-alone");
        PortkeeperHttpClients.Builder withManager = PortkeeperHttpClients.custom().connectionManager(given);
        leaks.closeAfter(withManager.build());
        assertThat(withManager.connectionManager()).isSameAs(given);

        PortkeeperHttpClients.Builder withSettings = PortkeeperHttpClients.custom()
                .poolConfig(PoolConfig.builder().name("own").maxPerEndpoint(3).build())
                .connectionConfig(ConnectionConfig.custom().setConnectTimeout(Timeout.ofSeconds(3)).build())
                .tlsSocketStrategy(DefaultClientTlsStrategy.createDefault());
        leaks.closeAfter(withSettings.build());
        assertThat(withSettings.connectionManager().pool().name()).isEqualTo("own");
        assertThat(withSettings.connectionManager().getDefaultMaxPerRoute()).isEqualTo(3);
    }

    @Test
    void aPoolSettingMadeAfterConnectionManagerBuiltTheManagerFailsTheBuild() {
        PortkeeperHttpClients.Builder b = PortkeeperHttpClients.custom();
        leaks.closeAfter(b.connectionManager());
        b.poolConfig(PoolConfig.builder().name("too-late").build());

        assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("poolConfig must be set before connectionManager() builds the manager from this builder's settings "
                        + "(it is built once, and the client uses it), but was set after it");
    }

    @Test
    void retryConfigTogetherWithDisableRetriesFailsNamingBoth() {
        PortkeeperHttpClients.Builder b = PortkeeperHttpClients.custom()
                .retryConfig(RetryConfig.custom().maxAttempts(3).waitDuration(Duration.ZERO).build())
                .disableRetries();

        assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("retryConfig must not be set together with disableRetries() (with retries off it is never used), "
                        + "but was a RetryConfig of maxAttempts 3");
    }

    @Test
    void onRetryCreatedTogetherWithDisableRetriesFailsNamingBoth() {
        PortkeeperHttpClients.Builder b = PortkeeperHttpClients.custom()
                .disableRetries()
                .onRetryCreated(retry -> { });

        assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("onRetryCreated must not be set together with disableRetries() (with retries off no "
                        + "Retry is created, and the listener is never called), but was ");
    }

    @Test
    void retryConfigAloneOrDisableRetriesAloneStillBuild() {
        AtomicReference<Retry> created = new AtomicReference<>();
        leaks.closeAfter(PortkeeperHttpClients.custom()
                .retryConfig(RetryConfig.custom().maxAttempts(3).waitDuration(Duration.ZERO).build())
                .onRetryCreated(created::set)
                .build());
        assertThat(created.get().getRetryConfig().getMaxAttempts()).isEqualTo(3);

        leaks.closeAfter(PortkeeperHttpClients.custom().disableRetries().build());
    }

    @Test
    void customizersAndRetryListenersGivenInSeveralCallsAllRunInOrder() {
        List<String> calls = new ArrayList<>();
        leaks.closeAfter(PortkeeperHttpClients.custom()
                .customize(b -> calls.add("customizer 1"))
                .onRetryCreated(r -> calls.add("listener 1"))
                .customize(b -> calls.add("customizer 2"))
                .onRetryCreated(r -> calls.add("listener 2"))
                .build());

        assertThat(calls).containsExactly("listener 1", "listener 2", "customizer 1", "customizer 2");
    }

    @Test
    void nullConfigsMeanTheDefaultsAndCountAsNotSet() {
        PortkeeperHttpClients.Builder defaults = PortkeeperHttpClients.custom()
                .poolConfig(null)
                .connectionConfig(null)
                .tlsSocketStrategy(null)
                .retryConfig(null);
        AtomicReference<Retry> created = new AtomicReference<>();
        leaks.closeAfter(defaults.onRetryCreated(created::set).build());
        assertThat(defaults.connectionManager().pool().config().toString())
                .isEqualTo(PoolConfig.builder().name("http").build().toString());
        assertThat(created.get().getRetryConfig().getMaxAttempts()).isEqualTo(2);

        // A null (the default) is no conflict with a given manager or with retries off.
        leaks.closeAfter(PortkeeperHttpClients.custom().connectionManager(manager("null-settings"))
                .poolConfig(PoolConfig.builder().name("replaced-by-null").build()).poolConfig(null)
                .connectionConfig(null).tlsSocketStrategy(null).retryConfig(null).disableRetries()
                .build());
    }

    @Test
    void nullCallbacksAndManagerAreRefusedNamingTheSetting() {
        assertThatThrownBy(() -> PortkeeperHttpClients.custom().connectionManager(null))
                .isInstanceOf(NullPointerException.class).hasMessage("connectionManager must not be null");
        assertThatThrownBy(() -> PortkeeperHttpClients.custom().customize(null))
                .isInstanceOf(NullPointerException.class).hasMessage("customizer must not be null");
        assertThatThrownBy(() -> PortkeeperHttpClients.custom().onRetryCreated(null))
                .isInstanceOf(NullPointerException.class).hasMessage("onRetryCreated listener must not be null");
    }
}
