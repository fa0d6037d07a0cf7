package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.PoolConfig;

import java.time.Duration;
import java.util.Arrays;

/**
 * Leak detection: with a threshold set, each lease records where it was taken, and housekeeping
 * reports (once per lease) one held longer than the threshold, with that trace.
 */
final class LeakDetector<C> {

    private final PoolEngine<C> engine;
    private final PoolConfig config;
    private final long thresholdNanos;

    LeakDetector(PoolEngine<C> engine, PoolConfig config) {
        this.engine = engine;
        this.config = config;
        this.thresholdNanos = config.leakDetectionThreshold().toNanos();
    }

    boolean enabled() {
        return thresholdNanos > 0;
    }

    /** Records where and when {@code e} was leased. */
    void leased(PooledEntry<C> e) {
        e.leakReported = false;
        e.leasedFrom = new Throwable("Lease of " + e.pool.endpoint + " taken here");
        e.leasedAt = engine.now();
    }

    void check(PooledEntry<C> e, long now) {
        Throwable from = e.leasedFrom;
        long heldFor = now - e.leasedAt;
        if (from != null && !e.leakReported && heldFor >= thresholdNanos) {
            e.leakReported = true;
            trimPoolFrames(from);
            Duration held = Duration.ofNanos(heldFor);
            System.getLogger("io.github.portkeeper.core.Pool").log(System.Logger.Level.WARNING,
                    "Possible connection leak in pool '" + config.name() + "': a lease of " + e.pool.endpoint
                            + " has been held for " + held.toMillis() + " ms (leakDetectionThreshold "
                            + config.leakDetectionThreshold().toMillis() + " ms); it was taken at:", from);
            engine.listeners.leakSuspected(e.pool.endpoint, held, from);
        }
    }

    /** Starts the lease's trace at the caller's code, not inside the pool. */
    private static void trimPoolFrames(Throwable trace) {
        StackTraceElement[] frames = trace.getStackTrace();
        int first = 0;
        while (first < frames.length && isPoolFrame(frames[first].getClassName())) {
            first++;
        }
        if (first > 0 && first < frames.length) {
            trace.setStackTrace(Arrays.copyOfRange(frames, first, frames.length));
        }
    }

    private static boolean isPoolFrame(String className) {
        return className.startsWith("io.github.portkeeper.core.internal.")
                || className.equals("io.github.portkeeper.core.Pool")
                || className.equals("io.github.portkeeper.core.SocketPool");
    }
}
