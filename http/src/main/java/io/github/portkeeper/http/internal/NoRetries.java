package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.HttpRequestRetryStrategy;
import org.apache.hc.core5.http.HttpRequest;
import org.apache.hc.core5.http.HttpResponse;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.util.TimeValue;

import java.io.IOException;

/**
 * HttpClient's retry strategy that never retries: Portkeeper's client installs it in place of
 * HttpClient's default, whose retries the dead-connection retry replaces. Set as a strategy
 * rather than by {@code disableAutomaticRetries()}, which removes HttpClient's retry step for
 * good: a strategy a customizer sets later replaces this one, and its retries then run.
 */
public final class NoRetries implements HttpRequestRetryStrategy {

    public static final NoRetries INSTANCE = new NoRetries();

    private NoRetries() {
    }

    @Override
    public boolean retryRequest(HttpRequest request, IOException exception, int execCount, HttpContext context) {
        return false;
    }

    @Override
    public boolean retryRequest(HttpResponse response, int execCount, HttpContext context) {
        return false;
    }

    @Override
    public TimeValue getRetryInterval(HttpResponse response, int execCount, HttpContext context) {
        return TimeValue.ZERO_MILLISECONDS;
    }

    @Override
    public String toString() {
        return "NoRetries";
    }
}
