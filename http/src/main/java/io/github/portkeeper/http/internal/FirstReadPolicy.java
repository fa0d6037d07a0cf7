package io.github.portkeeper.http.internal;

/**
 * Whether a {@link ChannelSocket}'s first read after a request tries the channel at once or waits
 * for readiness first, whichever costs one system call fewer here: on a host with cores to spare
 * the reply takes a round trip and a read at once finds nothing, while on a busy one (more request
 * threads than cores) the reply is usually there by the time this thread runs again, and a wait
 * would only say so. Learned per connection: after {@link #LATE_REPLIES_BEFORE_WAITING} first
 * reads in a row found nothing, waits come first, and one exchange in {@link #REPROBE_EVERY}
 * reads first again, to notice the host got busy. Why apart from the socket: it is a policy of
 * its own, tuned by the benchmarks, and the socket's streams only ask it.
 *
 * <p>Not thread-safe: touched by the one thread that reads and writes the connection.
 */
final class FirstReadPolicy {

    static final int LATE_REPLIES_BEFORE_WAITING = 4;
    /** A power of two. */
    static final int REPROBE_EVERY = 16;

    /** A request went out since the last read. */
    private boolean awaitingReply;
    /** First reads after a request that found nothing, in a row (capped). */
    private int lateReplies;
    private int exchanges;

    /** A request (or part of one) was written: the next read is the first after it. */
    void requestSent() {
        awaitingReply = true;
    }

    /** Whether a read comes right after a request; ends that state, so only the first read is. */
    boolean takeAwaitingReply() {
        boolean after = awaitingReply;
        awaitingReply = false;
        return after;
    }

    /** Whether the first read after a request tries the channel before waiting. */
    boolean readsFirstAfterRequest() {
        return lateReplies < LATE_REPLIES_BEFORE_WAITING || (++exchanges & (REPROBE_EVERY - 1)) == 0;
    }

    /** A first read after a request, tried at once, found nothing ({@code late}) or the reply. */
    void learn(boolean late) {
        lateReplies = late ? Math.min(lateReplies + 1, LATE_REPLIES_BEFORE_WAITING) : 0;
    }

    /** First reads after a request that found nothing, in a row. */
    int lateReplies() {
        return lateReplies;
    }
}
