package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.classic.ExecChain;
import org.apache.hc.client5.http.classic.ExecChainHandler;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.HttpException;
import org.apache.hc.core5.util.Timeout;

import java.io.IOException;

/**
 * Makes the pool's {@code leaseTimeout} the wait for a connection of a request whose
 * {@link RequestConfig} left the connection request timeout at HttpClient's default (3 minutes):
 * for instance a default request config a customizer set for its response timeout alone, which
 * replaced the one Portkeeper's client set. A timeout set explicitly, even to 3 minutes, is kept.
 *
 * <p>"Left at the default" is told by identity: {@code RequestConfig.Builder} starts from one
 * shared {@code Timeout} instance, and {@code RequestConfig.copy} keeps it, while any
 * {@code setConnectionRequestTimeout} call stores another. The first step of the exec chain, so
 * the whole exchange (redirects and retries included) sees the same config; the context's own
 * config is put back afterwards. Thread-safe.
 */
public final class LeaseTimeoutDefault implements ExecChainHandler {

    private static final Timeout HTTPCLIENT_DEFAULT = RequestConfig.DEFAULT.getConnectionRequestTimeout();

    private final Timeout leaseTimeout;
    /** The last config replaced and its replacement, so that the common case copies once. */
    private volatile RequestConfig[] lastReplaced = new RequestConfig[2];

    public LeaseTimeoutDefault(Timeout leaseTimeout) {
        this.leaseTimeout = leaseTimeout;
    }

    @Override
    public ClassicHttpResponse execute(ClassicHttpRequest request, ExecChain.Scope scope, ExecChain chain)
            throws IOException, HttpException {
        if (!(scope.clientContext instanceof HttpClientContext)) {
            return chain.proceed(request, scope);
        }
        HttpClientContext context = (HttpClientContext) scope.clientContext;
        RequestConfig own = context.getRequestConfig();
        RequestConfig config = own != null ? own : RequestConfig.DEFAULT;
        if (config.getConnectionRequestTimeout() != HTTPCLIENT_DEFAULT) {
            return chain.proceed(request, scope);
        }
        context.setRequestConfig(withLeaseTimeout(config));
        try {
            return chain.proceed(request, scope);
        } finally {
            context.setRequestConfig(own);
        }
    }

    private RequestConfig withLeaseTimeout(RequestConfig config) {
        RequestConfig[] last = lastReplaced;
        if (last[0] == config) {
            return last[1];
        }
        RequestConfig replaced = RequestConfig.copy(config).setConnectionRequestTimeout(leaseTimeout).build();
        lastReplaced = new RequestConfig[] {config, replaced};
        return replaced;
    }
}
