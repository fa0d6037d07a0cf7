package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.util.Timeout;

/**
 * Why: HttpClient hands timeouts to the socket in whole milliseconds, truncated
 * ({@code Timeout.toMillisecondsIntBound()}), and a socket takes 0 for "no timeout". A positive
 * timeout under 1 ms would so wait forever. The manager passes every timeout it applies through
 * here first, so such a timeout is applied as 1 ms (as core's {@code SocketPool} rounds up).
 * Each method returns its argument itself when nothing needs rounding: the common case costs a
 * few reads and no allocation.
 */
public final class SubMillisecondTimeouts {

    private static final Timeout ONE_MILLISECOND = Timeout.ofMilliseconds(1);

    private SubMillisecondTimeouts() {
    }

    /** {@code timeout}, or 1 ms if it is positive and under 1 ms; null and zero stay as they are. */
    public static Timeout roundedUp(Timeout timeout) {
        return timeout != null && timeout.getDuration() > 0 && timeout.toMilliseconds() == 0 ? ONE_MILLISECOND : timeout;
    }

    /** {@code config} with its so-timeout {@link #roundedUp}. */
    public static SocketConfig roundedUp(SocketConfig config) {
        Timeout t = config.getSoTimeout();
        Timeout rounded = roundedUp(t);
        return rounded == t ? config : SocketConfig.copy(config).setSoTimeout(rounded).build();
    }

    /** {@code config} with its handshake timeout {@link #roundedUp}. */
    public static TlsConfig roundedUp(TlsConfig config) {
        Timeout t = config.getHandshakeTimeout();
        Timeout rounded = roundedUp(t);
        return rounded == t ? config : TlsConfig.copy(config).setHandshakeTimeout(rounded).build();
    }
}
