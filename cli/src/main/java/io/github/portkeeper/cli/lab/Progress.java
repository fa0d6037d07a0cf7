package io.github.portkeeper.cli.lab;

import java.io.PrintStream;

/**
 * The progress line on stderr: rewritten in place with {@code \r}, at most five times a second.
 * Thread-safe.
 */
final class Progress {

    private static final long MIN_INTERVAL_NANOS = 200_000_000L;
    private static final int WIDTH = 96;

    private final PrintStream err;
    private long lastNanos;
    private boolean shown;

    Progress(PrintStream err) {
        this.err = err;
    }

    synchronized void show(String line) {
        long now = System.nanoTime();
        if (shown && now - lastNanos < MIN_INTERVAL_NANOS) {
            return;
        }
        lastNanos = now;
        shown = true;
        String text = line.length() > WIDTH ? line.substring(0, WIDTH) : line;
        err.print("\r" + text + " ".repeat(WIDTH - text.length()));
        err.flush();
    }

    /** Erases the line. */
    synchronized void clear() {
        if (shown) {
            err.print("\r" + " ".repeat(WIDTH) + "\r");
            err.flush();
            shown = false;
        }
    }
}
