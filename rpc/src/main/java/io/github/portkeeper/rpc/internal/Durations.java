package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.internal.Nanos;

import java.time.Duration;

/**
 * The rpc module's duration messages; the conversions themselves are core's {@link Nanos}
 * (sub-millisecond socket timeouts rounded up, waits past the nanosecond clock capped).
 * Stateless.
 */
public final class Durations {

    private Durations() {
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
}
