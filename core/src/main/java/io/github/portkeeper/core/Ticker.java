package io.github.portkeeper.core;

/**
 * A source of monotonic nanoseconds. The pool reads time only through a ticker, so tests can
 * drive lifetime, idle expiry and leak detection with a fake one instead of sleeping.
 *
 * <p>Implementations must be safe for concurrent use.
 */
@FunctionalInterface
public interface Ticker {

    /** Nanoseconds from an arbitrary origin; only differences are meaningful. */
    long read();

    /** The system ticker, {@link System#nanoTime()}. */
    static Ticker system() {
        return System::nanoTime;
    }
}
