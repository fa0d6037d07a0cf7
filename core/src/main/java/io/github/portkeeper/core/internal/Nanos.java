package io.github.portkeeper.core.internal;

import java.time.Duration;

/**
 * Durations on the pool's nanosecond clock. A {@code long} of nanoseconds holds about 292
 * years; {@link Duration#toNanos()} throws past that and a deadline {@code now + d} wraps. A
 * "wait at most" timeout beyond it is read as practically forever ({@link #saturated}), the
 * other settings are refused by their builders ({@link #MAX}), and every deadline is computed
 * with {@link #plus}, so a value up to the limit never wraps into the past.
 */
public final class Nanos {

    /** The longest duration the nanosecond clock holds: {@code PT2562047H47M16.854775807S}. */
    public static final Duration MAX = Duration.ofNanos(Long.MAX_VALUE);

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
