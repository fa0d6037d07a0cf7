package io.github.portkeeper.core.internal;

import java.time.Duration;

/**
 * Durations in the units the pool's clock and sockets take. A {@code long} of nanoseconds holds about 292
 * years; {@link Duration#toNanos()} throws past that and a deadline {@code now + d} wraps. A
 * "wait at most" timeout beyond it is read as practically forever ({@link #saturated}), the
 * other settings are refused by their builders ({@link #MAX}), and every deadline is computed
 * with {@link #plus}, so a value up to the limit never wraps into the past.
 */
public final class Nanos {

    /** The longest duration the nanosecond clock holds: {@code PT2562047H47M16.854775807S}. */
    public static final Duration MAX = Duration.ofNanos(Long.MAX_VALUE);

    private static final Duration MAX_SOCKET_TIMEOUT = Duration.ofMillis(Integer.MAX_VALUE);

    private Nanos() {
    }

    /** {@code d} in nanoseconds, {@link Long#MAX_VALUE} (or {@link Long#MIN_VALUE}) past the clock's range. */
    public static long saturated(Duration d) {
        if (d.compareTo(MAX) >= 0) {
            return Long.MAX_VALUE;
        }
        if (d.compareTo(Duration.ofNanos(Long.MIN_VALUE)) <= 0) {
            return Long.MIN_VALUE;
        }
        return d.toNanos();
    }

    /**
     * Whole milliseconds for SO_TIMEOUT or a connect timeout: zero stays zero (none), a positive
     * sub-millisecond value is rounded up (0 would mean "no timeout"), and anything past
     * {@code Integer.MAX_VALUE} ms (about 24.8 days, the most a socket takes) is that most.
     */
    public static int socketMillis(Duration d) {
        if (d.isZero()) {
            return 0;
        }
        if (d.compareTo(MAX_SOCKET_TIMEOUT) >= 0) {
            return Integer.MAX_VALUE;
        }
        return (int) Math.max(1, d.plusNanos(999_999).toMillis());
    }

    /** Whether {@code d} fits the nanosecond clock. */
    public static boolean fits(Duration d) {
        return d.compareTo(MAX) <= 0;
    }

    /** {@code t + d}, or {@link Long#MAX_VALUE} ({@link IdleWatcher#NEVER}) where that would pass the clock's end. */
    public static long plus(long t, long d) {
        long r = t + d;
        return d > 0 && r < t ? Long.MAX_VALUE : r;
    }

    /** {@code n × d} for a small positive {@code n}, or {@link Long#MAX_VALUE} where that would overflow. */
    static long times(int n, long d) {
        return d > Long.MAX_VALUE / n ? Long.MAX_VALUE : n * d;
    }
}
