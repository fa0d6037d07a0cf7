package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.ConnectionKeepAliveStrategy;
import org.apache.hc.client5.http.impl.DefaultConnectionKeepAliveStrategy;
import org.apache.hc.core5.http.HttpResponse;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.util.TimeValue;

/**
 * HttpClient's keep-alive strategy (the given one, or its default). The server's announced
 * {@code Keep-Alive: timeout=N} reaches the pool without it: the endpoint reads it once per
 * response ({@link KeepAliveHint}), with any strategy. Kept so that builders which install it
 * keep working.
 */
public final class KeepAliveHintStrategy implements ConnectionKeepAliveStrategy {

    private final ConnectionKeepAliveStrategy delegate;

    public KeepAliveHintStrategy(ConnectionKeepAliveStrategy delegate) {
        this.delegate = delegate != null ? delegate : DefaultConnectionKeepAliveStrategy.INSTANCE;
    }

    @Override
    public TimeValue getKeepAliveDuration(HttpResponse response, HttpContext context) {
        return delegate.getKeepAliveDuration(response, context);
    }
}
