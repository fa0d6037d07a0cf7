package io.github.portkeeper.core;

/**
 * A source of monotonic nanoseconds. The pool reads time only through a ticker, so tests can
 * drive lifetime, idle expiry and leak detection with a fake one instead of sleeping.
 *
 * <p>Implementations must be safe for concurrent use.
 */
@FunctionalInterface
public interface Ticker {

    /**
     * The current time.
     *
     * @return nanoseconds from an arbitrary origin; only differences are meaningful
     */
    long read();

    /**
     * The system ticker.
     *
     * @return a ticker reading {@link System#nanoTime()}
     */
    static Ticker system() {
        return System::nanoTime;
    }
}
