package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.internal.DeadConnectionRetryExec;
import io.github.portkeeper.http.internal.KeepAliveHintStrategy;
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

import java.util.Objects;
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
 * retried once on a fresh connection through a Resilience4j {@link Retry} when they are
 * idempotent; a non-idempotent request is never re-sent. HttpClient's own retry handler is
 * replaced by this one.
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

    /** Builds a Portkeeper-pooled {@link CloseableHttpClient}. Not thread-safe. */
    public static final class Builder {

        private PortkeeperConnectionManager manager;
        private final PortkeeperConnectionManagerBuilder managerBuilder = PortkeeperConnectionManager.builder();
        private RetryConfig retryConfig = DeadConnectionRetryExec.defaultConfig();
        private boolean retries = true;
        private Consumer<HttpClientBuilder> customizer = b -> { };
        private Consumer<Retry> retryListener = r -> { };

        private Builder() {
        }

        /**
         * Use this manager (and its pool) instead of building one; closing the client closes it.
         * The builder's own pool, connection and TLS settings are then not used.
         *
         * @param manager the connection manager; not {@code null}
         * @return this builder
         */
        public Builder connectionManager(PortkeeperConnectionManager manager) {
            this.manager = Objects.requireNonNull(manager, "manager");
            return this;
        }

        /**
         * The pool's limits and policies ({@code maxPerEndpoint} is the per-route limit, and
         * {@code leaseTimeout} HttpClient's connection request timeout). Default
         * {@link PoolConfig#defaults()} named {@code "http"}.
         *
         * @param poolConfig the pool's settings
         * @return this builder
         */
        public Builder poolConfig(PoolConfig poolConfig) {
            managerBuilder.setPoolConfig(poolConfig);
            return this;
        }

        /**
         * Connect and socket timeouts of the connections. Default: HttpClient's defaults.
         *
         * @param connectionConfig HttpClient's connection settings
         * @return this builder
         */
        public Builder connectionConfig(ConnectionConfig connectionConfig) {
            managerBuilder.setDefaultConnectionConfig(connectionConfig);
            return this;
        }

        /**
         * TLS for https routes. Default: HttpClient's default (the JVM's trust store).
         *
         * @param tlsSocketStrategy how TLS sockets are made
         * @return this builder
         */
        public Builder tlsSocketStrategy(TlsSocketStrategy tlsSocketStrategy) {
            managerBuilder.setTlsSocketStrategy(tlsSocketStrategy);
            return this;
        }

        /**
         * The Resilience4j retry for idempotent requests whose reused connection was dead. Default:
         * 2 attempts (one retry), no wait. Only the dead-connection failure is retried, whatever
         * the config's exception predicates say.
         *
         * @param retryConfig attempts and waits; not {@code null}
         * @return this builder
         */
        public Builder retryConfig(RetryConfig retryConfig) {
            this.retryConfig = Objects.requireNonNull(retryConfig, "retryConfig");
            return this;
        }

        /**
         * Turns the dead-connection retry off: a request on a connection the server had closed
         * fails with HttpClient's {@code NoHttpResponseException}.
         *
         * @return this builder
         */
        public Builder disableRetries() {
            this.retries = false;
            return this;
        }

        /**
         * Receives the Resilience4j {@link Retry} when {@link #build()} creates it (for example to
         * bind its Micrometer metrics). Not called when retries are off.
         *
         * @param listener called once per built client; not {@code null}
         * @return this builder
         */
        public Builder onRetryCreated(Consumer<Retry> listener) {
            this.retryListener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * Further HttpClient settings (interceptors, default request config, redirects...), applied
         * last, so they override what Portkeeper set.
         *
         * @param customizer receives HttpClient's builder; not {@code null}
         * @return this builder
         */
        public Builder customize(Consumer<HttpClientBuilder> customizer) {
            this.customizer = Objects.requireNonNull(customizer, "customizer");
            return this;
        }

        /**
         * The connection manager this builder will use, built now from the builder's settings if
         * none was given; for binding its metrics before the client exists.
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
         */
        public CloseableHttpClient build() {
            PortkeeperConnectionManager m = connectionManager();
            HttpClientBuilder b = HttpClients.custom()
                    .setConnectionManager(m)
                    // HttpClient's own default wait for a connection is 3 minutes; the pool's
                    // leaseTimeout is the documented one. A customizer may still override it.
                    .setDefaultRequestConfig(RequestConfig.custom()
                            .setConnectionRequestTimeout(Timeout.of(m.pool().config().leaseTimeout()))
                            .build())
                    .setKeepAliveStrategy(new KeepAliveHintStrategy(null))
                    .disableAutomaticRetries();
            if (retries) {
                Retry retry = Retry.of("portkeeper-" + m.pool().name(), DeadConnectionRetryExec.restrict(retryConfig));
                retryListener.accept(retry);
                b.addExecInterceptorBefore(ChainElement.PROTOCOL.name(), "portkeeper-retry", new DeadConnectionRetryExec(retry));
            }
            customizer.accept(b);
            return b.build();
        }
    }
}
