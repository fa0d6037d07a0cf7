package io.github.portkeeper.http.internal;

import org.apache.hc.core5.http.HeaderElement;
import org.apache.hc.core5.http.HeaderElements;
import org.apache.hc.core5.http.HttpHeaders;
import org.apache.hc.core5.http.HttpResponse;
import org.apache.hc.core5.http.message.MessageSupport;

import java.util.Iterator;

/**
 * The idle timeout a server announces ({@code Keep-Alive: timeout=N}), which the endpoint passes
 * to the pool after each exchange; the pool applies it with a safety margin (HttpClient itself
 * subtracts none). Read by the endpoint rather than by a keep-alive strategy, so it works with
 * any {@code HttpClientBuilder}, and once per response.
 */
final class KeepAliveHint {

    private KeepAliveHint() {
    }

    /** The announced timeout in milliseconds, or -1 if none (or a malformed one). */
    static long announcedTimeoutMillis(HttpResponse response) {
        if (!response.containsHeader(HttpHeaders.KEEP_ALIVE)) {
            return -1; // the common case: nothing to parse, nothing to allocate
        }
        Iterator<HeaderElement> it = MessageSupport.iterate(response, HeaderElements.KEEP_ALIVE);
        while (it.hasNext()) {
            HeaderElement he = it.next();
            if ("timeout".equalsIgnoreCase(he.getName()) && he.getValue() != null) {
                try {
                    long seconds = Long.parseLong(he.getValue().trim());
                    if (seconds > 0) {
                        return seconds * 1000;
                    }
                } catch (NumberFormatException ignored) {
                    // A malformed hint is no hint.
                }
            }
        }
        return -1;
    }
}
