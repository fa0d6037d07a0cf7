package io.github.portkeeper.core;

/**
 * A source of monotonic nanoseconds. The pool reads the ages it acts on through a ticker
 * (lifetime, idle expiry, leak detection), so tests can drive them with a fake one instead of
 * sleeping; how long a lease waits and a connect takes is measured with {@link System#nanoTime()}.
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
