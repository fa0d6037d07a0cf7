package io.github.portkeeper.spring.boot.common.internal;

import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.http.internal.DeadConnectionRetryExec;
import io.github.portkeeper.http.internal.KeepAliveHintStrategy;
import io.github.portkeeper.http.internal.LeaseTimeoutDefault;
import io.github.portkeeper.http.internal.NoRetries;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import org.apache.hc.client5.http.impl.ChainElement;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.apache.hc.core5.util.Timeout;

import java.time.Duration;

/**
 * Puts a shared {@link PortkeeperConnectionManager} into an {@link HttpClientBuilder} that Spring
 * Boot created and configured (redirects, cookies, default request config, the user's
 * customizers), the way {@code PortkeeperHttpClients} sets up its own builder: Keep-Alive hints
 * go to the pool, and an idempotent request whose reused connection was dead is retried on a
 * fresh one instead of by HttpClient's retry handler.
 *
 * <p>The manager is marked shared: closing one client (Boot closes the
 * {@code ClientHttpRequestFactory} bean's client at shutdown) must not close the pool every
 * other client uses; the manager bean closes it with the context.
 *
 * <p>Uses {@code io.github.portkeeper.http.internal} because portkeeper-http has no public way
 * to apply its HttpClient setup to a builder it did not create (see the starter's docs).
 */
public final class HttpClientInstaller {

    private final boolean retries;
    private final int maxAttempts;

    public HttpClientInstaller(boolean retries, int maxAttempts) {
        this.retries = retries;
        this.maxAttempts = maxAttempts;
    }

    /** The Resilience4j config of the dead-connection retry: {@code maxAttempts} in all, no wait. */
    public RetryConfig retryConfig() {
        return RetryConfig.custom().maxAttempts(maxAttempts).waitDuration(Duration.ZERO).build();
    }

    public boolean retries() {
        return retries;
    }

    /**
     * Installs {@code manager} into {@code builder}. A request whose config left HttpClient's
     * connection request timeout at its default (for instance a default request config an
     * application's customizer set for its response timeout alone, replacing Boot's) waits the
     * pool's lease timeout for a connection. HttpClient's retry strategy becomes one that never
     * retries (not {@code disableAutomaticRetries()}, so that a customizer run after this one
     * can still set a strategy of its own).
     */
    public void install(HttpClientBuilder builder, PortkeeperConnectionManager manager) {
        builder.setConnectionManager(manager)
                .setConnectionManagerShared(true)
                .setKeepAliveStrategy(new KeepAliveHintStrategy(null))
                .addExecInterceptorFirst("portkeeper-lease-timeout",
                        new LeaseTimeoutDefault(Timeout.of(manager.pool().config().leaseTimeout())))
                .setRetryStrategy(NoRetries.INSTANCE);
        if (retries) {
            Retry retry = Retry.of("portkeeper-" + manager.pool().name(), DeadConnectionRetryExec.restrict(retryConfig()));
            builder.addExecInterceptorBefore(ChainElement.PROTOCOL.name(), "portkeeper-retry", new DeadConnectionRetryExec(retry));
        }
    }
}
