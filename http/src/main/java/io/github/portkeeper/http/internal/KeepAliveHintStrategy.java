package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.ConnectionKeepAliveStrategy;
import org.apache.hc.client5.http.impl.DefaultConnectionKeepAliveStrategy;
import org.apache.hc.core5.http.HeaderElement;
import org.apache.hc.core5.http.HeaderElements;
import org.apache.hc.core5.http.HttpResponse;
import org.apache.hc.core5.http.message.MessageSupport;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.util.TimeValue;

import java.util.Iterator;

/**
 * HttpClient's keep-alive strategy, plus: a {@code Keep-Alive: timeout=N} the server announces
 * is passed to the pool as the endpoint's idle timeout, which the pool applies with a safety
 * margin (HttpClient itself subtracts none).
 */
public final class KeepAliveHintStrategy implements ConnectionKeepAliveStrategy {

    /** Context attribute under which the endpoint publishes the connection of the exchange. */
    public static final String CONNECTION_ATTRIBUTE = "portkeeper.http.connection";

    private final ConnectionKeepAliveStrategy delegate;

    public KeepAliveHintStrategy(ConnectionKeepAliveStrategy delegate) {
        this.delegate = delegate != null ? delegate : DefaultConnectionKeepAliveStrategy.INSTANCE;
    }

    @Override
    public TimeValue getKeepAliveDuration(HttpResponse response, HttpContext context) {
        Object c = context.getAttribute(CONNECTION_ATTRIBUTE);
        if (c instanceof HttpConnection) {
            ((HttpConnection) c).keepAliveHintMillis = announcedTimeoutMillis(response);
        }
        return delegate.getKeepAliveDuration(response, context);
    }

    static long announcedTimeoutMillis(HttpResponse response) {
        if (!response.containsHeader(HeaderElements.KEEP_ALIVE)) {
            return -1; // the common case, without the header parser's iterators
        }
        Iterator<HeaderElement> it = MessageSupport.iterate(response, HeaderElements.KEEP_ALIVE);
        while (it.hasNext()) {
            HeaderElement he = it.next();
            if ("timeout".equalsIgnoreCase(he.getName()) && he.getValue() != null) {
                String value = he.getValue().trim();
                try {
                    long seconds = Long.parseLong(value);
                    if (seconds > 0) {
                        // Saturated, as HttpClient's TimeValue does: a timeout past the range
                        // limits nothing (the pool takes it for none known), it must not wrap.
                        return seconds > Long.MAX_VALUE / 1000 ? Long.MAX_VALUE : seconds * 1000;
                    }
                } catch (NumberFormatException malformed) {
                    if (!value.isEmpty() && value.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
                        return Long.MAX_VALUE; // digits past a long's range: as large, saturated
                    }
                    // Anything else malformed is no hint.
                }
            }
        }
        return -1;
    }
}
