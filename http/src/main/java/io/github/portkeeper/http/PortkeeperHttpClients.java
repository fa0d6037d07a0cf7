package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.internal.DeadConnectionRetryExec;
import io.github.portkeeper.http.internal.KeepAliveHintStrategy;
import io.github.portkeeper.http.internal.LeaseTimeoutDefault;
import io.github.portkeeper.http.internal.NoRetries;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.core5.util.Timeout;
import org.apache.hc.client5.http.impl.ChainElement;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.function.Consumer;

/**
 * Factories for a standard {@link CloseableHttpClient} with Portkeeper pooling: a drop-in for
 * {@code HttpClients.createDefault()} or a client per request.
 *
 * <pre>{@code
 * CloseableHttpClient client = PortkeeperHttpClients.custom()
 *         .poolConfig(PoolConfig.builder().name("catalog").maxPerEndpoint(16).build())
 *         .build();
 * }</pre>
 *
 * <p>Requests that fail because a reused connection turned out dead (no response received, or
 * garbage where a response head should be) are
 * retried on a fresh connection (once by default; {@code retryConfig}'s {@code maxAttempts}
 * counts every attempt, the first included) through a Resilience4j {@link Retry} when they are
 * idempotent; a non-idempotent request is never re-sent. HttpClient's own retry strategy is
 * replaced by one that never retries; a strategy set through {@link Builder#customize} replaces
 * that in turn, and runs besides the dead-connection retry.
 */
public final class PortkeeperHttpClients {

    private PortkeeperHttpClients() {
    }

    /**
     * A client with the default settings: {@link PoolConfig#defaults()} named {@code "http"}, HttpClient's default
     * connection config, the dead-connection retry on.
     *
     * @return a new client; closing it closes its pool
     */
    public static CloseableHttpClient createDefault() {
        return custom().build();
    }

    /**
     * A builder for a client with other settings.
     *
     * @return a new builder
     */
    public static Builder custom() {
        return new Builder();
    }

    /**
     * Builds a Portkeeper-pooled {@link CloseableHttpClient}. Not thread-safe.
     *
     * <p>Settings that would have no effect are refused by {@link #build()}, naming both sides:
     * {@code poolConfig}, {@code connectionConfig} or {@code tlsSocketStrategy} with a given
     * {@code connectionManager} (which has its own), such a setting made after
     * {@link #connectionManager()} built the manager, and {@code retryConfig} or
     * {@code onRetryCreated} with {@link #disableRetries()}. As in HttpClient's builders,
     * {@code null} for {@code poolConfig}, {@code connectionConfig}, {@code tlsSocketStrategy}
     * or {@code retryConfig} means the default (and counts as not set).
     */
    public static final class Builder {

        private PortkeeperConnectionManager manager;
        private boolean managerGiven;
        /** The first manager setting made after {@link #connectionManager()} built the manager, or null. */
        private String settingAfterBuild;
        /** The manager settings set on this builder (non-null), by name, in the order first set. */
        private final Map<String, Object> managerSettings = new LinkedHashMap<>();
        private final PortkeeperConnectionManagerBuilder managerBuilder = PortkeeperConnectionManager.builder();
        private RetryConfig retryConfig;
        private boolean retries = true;
        private Consumer<HttpClientBuilder> customizer;
        private Consumer<Retry> retryListener;

        private Builder() {
        }

        /**
         * Use this manager (and its pool) instead of building one; closing the client closes it.
         * The manager has its own pool, connection and TLS settings: {@link #poolConfig},
         * {@link #connectionConfig} and {@link #tlsSocketStrategy} must not be set with it
         * ({@link #build()} fails naming both).
         *
         * @param manager the connection manager; not {@code null}
         * @return this builder
         */
        public Builder connectionManager(PortkeeperConnectionManager manager) {
            Objects.requireNonNull(manager, "connectionManager must not be null");
            noteSettingAfterBuild("connectionManager");
            this.manager = manager;
            this.managerGiven = true;
            return this;
        }

        /**
         * The pool's limits and policies ({@code maxPerEndpoint} is the per-route limit, and
         * {@code leaseTimeout} HttpClient's connection request timeout). Default
         * {@link PoolConfig#defaults()} named {@code "http"}. Not with
         * {@link #connectionManager(PortkeeperConnectionManager)}.
         *
         * @param poolConfig the pool's settings; {@code null} for the default
         * @return this builder
         */
        public Builder poolConfig(PoolConfig poolConfig) {
            managerSetting("poolConfig", poolConfig);
            managerBuilder.setPoolConfig(poolConfig);
            return this;
        }

        /**
         * Connect and socket timeouts of the connections. Default: HttpClient's defaults. Not
         * with {@link #connectionManager(PortkeeperConnectionManager)}.
         *
         * @param connectionConfig HttpClient's connection settings; {@code null} for
         *                         {@link ConnectionConfig#DEFAULT}
         * @return this builder
         */
        public Builder connectionConfig(ConnectionConfig connectionConfig) {
            managerSetting("connectionConfig", connectionConfig);
            managerBuilder.setDefaultConnectionConfig(connectionConfig);
            return this;
        }

        /**
         * TLS for https routes. Default: HttpClient's default (the JVM's trust store). Not with
         * {@link #connectionManager(PortkeeperConnectionManager)}.
         *
         * @param tlsSocketStrategy how TLS sockets are made; {@code null} for the default
         * @return this builder
         */
        public Builder tlsSocketStrategy(TlsSocketStrategy tlsSocketStrategy) {
            managerSetting("tlsSocketStrategy", tlsSocketStrategy);
            managerBuilder.setTlsSocketStrategy(tlsSocketStrategy);
            return this;
        }

        /**
         * The Resilience4j retry for idempotent requests whose reused connection was dead. Default:
         * 2 attempts (one retry), no wait. Only the dead-connection failure is retried, whatever
         * the config's exception predicates say: the first attempt failed on a reused connection,
         * and each retry goes out on a new one; with more than 2 attempts, a retry that again
         * gets no response is retried in turn. Not with {@link #disableRetries()}.
         *
         * @param retryConfig attempts and waits; {@code null} for the default
         * @return this builder
         */
        public Builder retryConfig(RetryConfig retryConfig) {
            this.retryConfig = retryConfig;
            return this;
        }

        /**
         * Turns the dead-connection retry off: a request on a connection the server had closed
         * fails with HttpClient's {@code NoHttpResponseException}. Not with
         * {@link #retryConfig(RetryConfig)} or {@link #onRetryCreated(Consumer)}, which then
         * have nothing to act on.
         *
         * @return this builder
         */
        public Builder disableRetries() {
            this.retries = false;
            return this;
        }

        /**
         * Receives the Resilience4j {@link Retry} when {@link #build()} creates it (for example to
         * bind its Micrometer metrics). Listeners given by several calls are all called, in
         * order. Not with {@link #disableRetries()}, where no {@code Retry} is created.
         *
         * @param listener called once per built client; not {@code null}
         * @return this builder
         */
        public Builder onRetryCreated(Consumer<Retry> listener) {
            Objects.requireNonNull(listener, "onRetryCreated listener must not be null");
            this.retryListener = retryListener == null ? listener : retryListener.andThen(listener);
            return this;
        }

        /**
         * Further HttpClient settings (interceptors, default request config, redirects...), applied
         * last, so they override what Portkeeper set. Customizers given by several calls are all
         * applied, in order. A request config that leaves the connection request timeout at
         * HttpClient's default (3 minutes) still waits the pool's {@code leaseTimeout} for a
         * connection; one set explicitly is kept.
         *
         * @param customizer receives HttpClient's builder; not {@code null}
         * @return this builder
         */
        public Builder customize(Consumer<HttpClientBuilder> customizer) {
            Objects.requireNonNull(customizer, "customizer must not be null");
            this.customizer = this.customizer == null ? customizer : this.customizer.andThen(customizer);
            return this;
        }

        /**
         * The connection manager this builder will use, built now from the builder's settings if
         * none was given; for binding its metrics before the client exists. Manager settings
         * made after this call would not reach the manager: {@link #build()} refuses them.
         *
         * @return the manager, the same one on every call
         */
        public PortkeeperConnectionManager connectionManager() {
            if (manager == null) {
                manager = managerBuilder.build();
            }
            return manager;
        }

        /**
         * Builds the client.
         *
         * @return a new client; closing it closes its connection manager and pool
         * @throws IllegalArgumentException for settings that would have no effect (see
         *                                  {@link Builder})
         */
        public CloseableHttpClient build() {
            checkSettings();
            PortkeeperConnectionManager m = connectionManager();
            Timeout leaseTimeout = Timeout.of(m.pool().config().leaseTimeout());
            HttpClientBuilder b = HttpClients.custom()
                    .setConnectionManager(m)
                    // HttpClient's own default wait for a connection is 3 minutes; the pool's
                    // leaseTimeout is the documented one. A customizer may still set another;
                    // one whose request config leaves it untouched keeps the leaseTimeout.
                    .setDefaultRequestConfig(RequestConfig.custom().setConnectionRequestTimeout(leaseTimeout).build())
                    .addExecInterceptorFirst("portkeeper-lease-timeout", new LeaseTimeoutDefault(leaseTimeout))
                    .setKeepAliveStrategy(new KeepAliveHintStrategy(null))
                    // Not disableAutomaticRetries(): that would also drop a retry strategy a
                    // customizer sets, which then replaces this one.
                    .setRetryStrategy(NoRetries.INSTANCE);
            if (retries) {
                RetryConfig config = retryConfig != null ? retryConfig : DeadConnectionRetryExec.defaultConfig();
                Retry retry = Retry.of("portkeeper-" + m.pool().name(), DeadConnectionRetryExec.restrict(config));
                if (retryListener != null) {
                    retryListener.accept(retry);
                }
                b.addExecInterceptorBefore(ChainElement.PROTOCOL.name(), "portkeeper-retry", new DeadConnectionRetryExec(retry));
            }
            if (customizer != null) {
                customizer.accept(b);
            }
            return b.build();
        }

        private void managerSetting(String name, Object value) {
            noteSettingAfterBuild(name);
            if (value == null) {
                managerSettings.remove(name);
            } else {
                managerSettings.put(name, value);
            }
        }

        /** A manager setting once {@link #connectionManager()} has built the manager comes too late. */
        private void noteSettingAfterBuild(String name) {
            if (manager != null && !managerGiven && settingAfterBuild == null) {
                settingAfterBuild = name;
            }
        }

        private void checkSettings() {
            if (settingAfterBuild != null) {
                throw new IllegalArgumentException(settingAfterBuild + " must be set before connectionManager() builds the "
                        + "manager from this builder's settings (it is built once, and the client uses it), but was set after it");
            }
            if (managerGiven && !managerSettings.isEmpty()) {
                StringJoiner names = new StringJoiner(" and ");
                StringJoiner values = new StringJoiner(" and ");
                managerSettings.forEach((name, value) -> {
                    names.add(name);
                    values.add(name + " was " + value);
                });
                throw new IllegalArgumentException(names + " must not be set together with connectionManager (the given "
                        + "manager has its own pool, connection and TLS settings: set them on its builder), but " + values);
            }
            if (!retries && retryConfig != null) {
                throw new IllegalArgumentException("retryConfig must not be set together with disableRetries() (with retries "
                        + "off it is never used), but was a RetryConfig of maxAttempts " + retryConfig.getMaxAttempts());
            }
            if (!retries && retryListener != null) {
                throw new IllegalArgumentException("onRetryCreated must not be set together with disableRetries() (with retries "
                        + "off no Retry is created, and the listener is never called), but was " + retryListener);
            }
        }
    }
}
