package io.github.portkeeper.rpc.internal;

import java.time.Duration;

/**
 * Turns the users' durations into the units sockets and clocks take, without the two surprises
 * of {@code Duration.toMillis()}/{@code toNanos()}: a sub-millisecond timeout that becomes 0 (for
 * SO_TIMEOUT and connect, "no timeout at all"), and a long one that overflows
 * ({@link ArithmeticException}, late, far from the setting). Stateless.
 */
public final class Durations {

    /** The longest duration a {@code long} of nanoseconds holds (about 292 years). */
    public static final Duration MAX_NANOS = Duration.ofNanos(Long.MAX_VALUE);

    private static final Duration MAX_SOCKET_MILLIS = Duration.ofMillis(Integer.MAX_VALUE);

    private Durations() {
    }

    /**
     * Milliseconds for SO_TIMEOUT or a connect timeout, as core's {@code SocketPool} does: zero
     * stays zero (none), anything else is rounded up (so never 0), and anything over
     * {@code Integer.MAX_VALUE} ms (about 24.8 days, the most a socket takes) is that most.
     *
     * @param d zero or positive
     */
    public static int socketMillis(Duration d) {
        if (d.isZero()) {
            return 0;
        }
        if (d.compareTo(MAX_SOCKET_MILLIS) >= 0) {
            return Integer.MAX_VALUE;
        }
        return (int) d.plusNanos(999_999).toMillis();
    }

    /**
     * Nanoseconds, capped at {@code Long.MAX_VALUE} (for waits bounded elsewhere, such as a call's
     * deadline).
     *
     * @param d zero or positive
     */
    public static long nanos(Duration d) {
        return d.compareTo(MAX_NANOS) >= 0 ? Long.MAX_VALUE : d.toNanos();
    }

    /**
     * A duration for a message: {@code "250 ms"} when it is whole milliseconds, else ISO-8601
     * ({@code PT0.0005S}), so a sub-millisecond timeout is never shown as "0 ms" and a long one
     * never overflows.
     */
    public static String describe(Duration d) {
        if (d.getNano() % 1_000_000 == 0 && d.getSeconds() >= 0 && d.getSeconds() < Long.MAX_VALUE / 1000 - 1) {
            return d.toMillis() + " ms";
        }
        return d.toString();
    }

    /**
     * Checks that a duration the pool keeps and times in nanoseconds fits them.
     *
     * @throws IllegalArgumentException {@code "<setting> must be at most PT2562047H47M16.854775807S, but was <d>"}
     */
    public static void checkFitsNanos(String setting, Duration d) {
        if (d.compareTo(MAX_NANOS) > 0) {
            throw new IllegalArgumentException(setting + " must be at most " + MAX_NANOS + ", but was " + d);
        }
    }
}
