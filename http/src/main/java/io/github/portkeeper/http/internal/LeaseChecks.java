package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.core5.util.TimeValue;

import java.io.IOException;

/**
 * HttpClient's per-connection rules for reusing a pooled connection, applied when one is leased
 * (as {@code PoolingHttpClientConnectionManager} does): time to live, idle timeout, the
 * keep-alive duration the response allowed, and validation after inactivity. A connection that
 * fails one is not used; the caller retires it, so it still leaves by the pool's policy.
 */
public final class LeaseChecks {

    private LeaseChecks() {
    }

    /** Why {@code c} must not serve this lease, or null if it may. */
    public static String unfit(HttpConnection c, ConnectionConfig config, long now) {
        TimeValue ttl = config.getTimeToLive();
        if (TimeValue.isNonNegative(ttl) && (ttl.getDuration() == 0 || now - c.connectedAt >= ttl.toNanoseconds())) {
            return "time to live";
        }
        TimeValue idle = HttpClientFeatures.idleTimeout(config);
        if (TimeValue.isPositive(idle) && now - c.releasedAt >= idle.toNanoseconds()) {
            return "idle timeout";
        }
        if (now - c.reusableUntil >= 0) {
            return "keep-alive expired";
        }
        // Only when asked for: the pool already watches idle connections for the server's FIN
        // without a blocking read, which is what HttpClient's default check (after 2 s) is for.
        TimeValue validate = config.getValidateAfterInactivity();
        if (TimeValue.isNonNegative(validate) && (validate.getDuration() == 0 || now - c.releasedAt >= validate.toNanoseconds())) {
            try {
                if (c.conn.isStale()) {
                    return "stale";
                }
            } catch (IOException e) {
                return "stale";
            }
        }
        return null;
    }

    /** Whether {@link #unfit} says the connection is expired (for {@code closeExpired}), without I/O. */
    public static boolean expired(HttpConnection c, ConnectionConfig config, long now) {
        TimeValue ttl = config.getTimeToLive();
        if (TimeValue.isNonNegative(ttl) && (ttl.getDuration() == 0 || now - c.connectedAt >= ttl.toNanoseconds())) {
            return true;
        }
        return now - c.reusableUntil >= 0;
    }
}
