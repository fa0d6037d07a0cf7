package io.github.portkeeper.core.internal;

import java.util.concurrent.TimeUnit;

/**
 * One endpoint's observations of the idle age at which the server closed a connection, and the
 * idle timeout learned from them: the smallest of the last {@value #KEPT} that are younger than
 * {@link #LIFETIME_NANOS} (ticker time).
 *
 * <p>The smallest, because a server never closes before its timeout. The lifetime, because a
 * close for another reason (a reload closing every idle connection at once) would otherwise be
 * the smallest for good: once the learned value is short, connections are retired before the
 * server's real timeout, so the server is never seen to close later and the value could never
 * rise again. A server that really closes at its timeout keeps teaching it (under
 * {@code AWAIT_PEER} every connection retired for its idle age drains until that close); under
 * the other policies the value is learned again at the first idle close after it was forgotten.
 *
 * <p>Recorded by the watcher's thread and by leasers that take a watched connection back (no
 * lock in common), read on the lease path: writes are synchronized, the learned value is one
 * volatile read, and its expiry is checked against the caller's clock reading.
 */
final class IdleCloseObservations {

    /** How many recent observations count. */
    static final int KEPT = 8;
    /** How long an observation counts (ticker time). */
    static final long LIFETIME_NANOS = TimeUnit.MINUTES.toNanos(10);

    /** The learned timeout and when it stops counting (the observation it comes from expires). */
    private record Learned(long nanos, long until) {
    }

    private static final Learned UNKNOWN = new Learned(Long.MAX_VALUE, Long.MAX_VALUE);

    /** Idle ages and when they were observed; a ring, allocated at the first observation. */
    private long[] ages;
    private long[] observedAt;
    /** The ring's next slot, always in [0, KEPT). */
    private int next;
    /** Slots written so far, at most KEPT. */
    private int count;
    private volatile Learned learned = UNKNOWN;

    /** Records that the server closed a connection idle {@code idleNanos}, at ticker time {@code now}. */
    synchronized void observe(long idleNanos, long now) {
        if (ages == null) {
            ages = new long[KEPT];
            observedAt = new long[KEPT];
        }
        ages[next] = idleNanos;
        observedAt[next] = now;
        next = (next + 1) % KEPT;
        count = Math.min(count + 1, KEPT);
        relearn(now);
    }

    /** The learned idle timeout at ticker time {@code now}, or {@link Long#MAX_VALUE} if none counts. */
    long nanos(long now) {
        Learned l = learned;
        if (l.nanos != Long.MAX_VALUE && now - l.until >= 0) {
            return expire(now);
        }
        return l.nanos;
    }

    /** The observed-at time of the observation the learned value comes from, or Long.MIN_VALUE if none counts. */
    synchronized long learnedAt(long now) {
        Learned l = learned;
        if (l.nanos == Long.MAX_VALUE || now - l.until >= 0) {
            return Long.MIN_VALUE;
        }
        return l.until - LIFETIME_NANOS;
    }

    private synchronized long expire(long now) {
        relearn(now);
        return learned.nanos;
    }

    private void relearn(long now) {
        long min = Long.MAX_VALUE;
        long until = Long.MAX_VALUE;
        for (int i = 0; i < count; i++) {
            long expires = observedAt[i] + LIFETIME_NANOS;
            if (now - expires < 0 && (ages[i] < min || (ages[i] == min && expires - until > 0))) {
                min = ages[i];
                until = expires;
            }
        }
        learned = min == Long.MAX_VALUE ? UNKNOWN : new Learned(min, until);
    }
}
