package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PortBudgetSnapshot;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Ports one endpoint's connections tie up: open sockets, TIME_WAIT left by our own closes in the
 * last 60 s (one-second buckets), and the kernel's count of every socket toward the endpoint as
 * of the last refresh (it includes ours; the difference is other pools' and processes').
 *
 * <p>Every change of the counts, and every {@link #usage} read of them, holds this object's
 * monitor (connects and closes only, never a lease of a pooled connection): the counts move in
 * pairs (a port taken is an open socket and a socket the kernel has not seen yet), and a reader
 * that took one of a pair before a change and the other after it reported one socket of ours as
 * another process's, or the reverse. {@link #grownSinceRead}, which only decides when to read
 * the kernel, needs no lock.
 *
 * <p>A close is two steps around the socket's close: {@link #closing} before it, {@link #closed}
 * after. A reset socket leaves the kernel's table at once, so a read may fall between the two
 * and count the table without it while our counts still hold it open: until {@link #closed}, it
 * stays counted on top of that read's count (as a connect in progress does), and {@link #closed}
 * does not take it off the count again.
 */
final class PortUsage {

    private static final int WINDOW_SECONDS = 60;

    /** Open sockets of this pool toward the endpoint, including connects in progress. */
    final AtomicInteger sockets = new AtomicInteger();
    /**
     * Sockets opened since the kernel count was taken (the kernel has not seen them), times 2^32,
     * plus the ports taken for connects still in progress (their sockets may not exist in the
     * kernel yet, so a read taken meanwhile must not be trusted to contain them). One word, so a
     * read's mark sees both at one instant: a port taken and given back between two separate
     * reads of them would pass for a socket the snapshot holds, and be subtracted from the
     * budget's count until the next read.
     */
    private final java.util.concurrent.atomic.AtomicLong openedAndConnecting = new java.util.concurrent.atomic.AtomicLong();
    private static final long OPENED = 1L << 32;
    /** One read of the kernel at a time per endpoint, held from the mark to {@link #refreshed}. */
    final java.util.concurrent.locks.ReentrantLock readLock = new java.util.concurrent.locks.ReentrantLock();
    /** Sockets closed without TIME_WAIT since the kernel count was taken (gone, but still in it). */
    private final AtomicInteger closedSinceRefresh = new AtomicInteger();
    /** Closes with a local FIN (a TIME_WAIT each) since the kernel count was taken. */
    private final AtomicInteger timeWaitSinceRefresh = new AtomicInteger();
    /**
     * Open sockets at the last kernel count, less those opened since its mark (they may be
     * missing from it, and count as growth until a read marked after them).
     */
    private volatile int socketsAtRefresh;
    /** Kernel counts taken so far ({@link #refreshed}): the ticket of a close, {@link #closing}. */
    private long refreshes;
    /** Closes begun ({@link #closing}) and not yet accounted for ({@link #closed}). */
    private int closing;
    /**
     * Of those, the ones begun before the last kernel count: the table it was taken from may lack
     * their sockets already, which our counts still hold open. Counted on top of it until closed.
     */
    private int closingAtRefresh;
    private final long[] bucketSecond = new long[WINDOW_SECONDS + 1];
    private final int[] bucketCount = new int[WINDOW_SECONDS + 1];
    /** {@link #kernelTotal} before any count: a connect waits for the first. */
    private static final int UNREAD = -1;
    /** {@link #kernelTotal} when the kernel could not be read (yet): the budget counts ours only. */
    private static final int OURS_ONLY = -2;
    /**
     * The kernel's count of sockets toward the endpoint at the last refresh, or {@link #UNREAD},
     * or {@link #OURS_ONLY}.
     */
    private volatile int kernelTotal = UNREAD;
    /** The endpoint's addresses for the kernel count, looked up (and again) off the kernel reader's thread. */
    final EndpointAddresses addresses = new EndpointAddresses();

    /** Takes a port for a new connection if that keeps usage within {@code budget}. */
    synchronized boolean tryTake(int budget, long now) {
        sockets.incrementAndGet();
        openedAndConnecting.addAndGet(OPENED + 1);
        if (usage(budget, now).used() > budget) {
            giveBack();
            return false;
        }
        return true;
    }

    /** Counts a port for a connect without checking the budget (the budget is off). */
    synchronized void take() {
        sockets.incrementAndGet();
        openedAndConnecting.addAndGet(OPENED + 1);
    }

    /** The connect for a taken port finished: its socket exists (or was given back). */
    synchronized void connectDone() {
        openedAndConnecting.decrementAndGet();
    }

    private static int connecting(long v) {
        return (int) v;
    }

    private static int opened(long v) {
        return (int) ((v - connecting(v)) >> 32);
    }

    /** A port taken for a connect that never happened, or that failed. */
    synchronized void giveBack() {
        sockets.decrementAndGet();
        openedAndConnecting.addAndGet(-(OPENED + 1));
    }

    /** A connection moved to another endpoint of the same host and port: its socket is counted there now. */
    synchronized void movedOut() {
        sockets.decrementAndGet();
    }

    /** A connection moved here from another endpoint of the same host and port. */
    synchronized void movedIn() {
        sockets.incrementAndGet();
    }

    /**
     * One of our sockets is about to be closed: the socket may leave the kernel's table from now
     * on. Returns the ticket {@link #closed} takes once the close is accounted for.
     */
    synchronized long closing() {
        closing++;
        return refreshes;
    }

    /**
     * A socket closed, begun with the {@code ticket} of {@link #closing}; by a local FIN
     * ({@link Ending#LOCAL}) it now sits in TIME_WAIT for 60 s (a row of the kernel's table, which
     * its counts keep holding). Otherwise the socket left the table, and is taken off the last
     * count only if that count surely held it: it was taken before {@link #closing} (no read
     * since), and the socket was still there then. A reset or a close after the peer's FIN leaves
     * the table at our close; a connection the peer reset or the kernel aborted
     * ({@link Ending#ABORTED}), or one never established ({@link Ending#FAILED}), left it earlier,
     * at a moment we cannot see. Where a count may lack it, it is not subtracted: at worst one
     * socket too many until the next read, never one too few.
     */
    synchronized void closed(Ending ending, long now, long ticket) {
        sockets.decrementAndGet();
        closing--;
        boolean readSince = ticket != refreshes;
        if (readSince) {
            closingAtRefresh--; // it was being closed at the last count, which counted it on top
        }
        if (ending == Ending.LOCAL) {
            timeWaitSinceRefresh.incrementAndGet();
            recordTimeWait(now);
        } else if (!readSince && ending != Ending.ABORTED && ending != Ending.FAILED) {
            closedSinceRefresh.incrementAndGet();
        }
    }

    private synchronized void recordTimeWait(long now) {
        long second = now / 1_000_000_000L;
        int i = (int) Math.floorMod(second, (long) bucketSecond.length);
        if (bucketSecond[i] != second) {
            bucketSecond[i] = second;
            bucketCount[i] = 0;
        }
        bucketCount[i]++;
    }

    synchronized int recentTimeWait(long now) {
        long second = now / 1_000_000_000L;
        int sum = 0;
        for (int i = 0; i < bucketSecond.length; i++) {
            if (bucketCount[i] > 0 && second - bucketSecond[i] <= WINDOW_SECONDS) {
                sum += bucketCount[i];
            }
        }
        return sum;
    }

    /**
     * Called before a kernel snapshot is taken: the sockets opened so far are in it, except
     * connects still in progress, which keep being counted on top of it (if the snapshot has them
     * after all, they count twice until the next read: the safe way round). The mark, for
     * {@link #refreshed}: those sockets (low word), and our open sockets now, plus one (high word;
     * 0 in a mark made without this method: the sockets at the refresh).
     */
    synchronized long markBeforeRefresh() {
        long v = openedAndConnecting.get();
        long opened = Math.max(0, opened(v) - Math.max(0, connecting(v)));
        return opened | (Math.max(0, sockets.get()) + 1L) << 32;
    }

    /**
     * Called right after the snapshot. Closes are marked now, not before the snapshot: one that
     * happened while the table was read may be missing from it already, and subtracting it once
     * more would undercount; counting it as seen at worst overcounts until the next read. Every
     * step below leaves an overcount, never an undercount, for a concurrent reader.
     */
    synchronized void refreshed(int kernelCount, long mark) {
        closedSinceRefresh.addAndGet(-closedSinceRefresh.get());
        timeWaitSinceRefresh.addAndGet(-timeWaitSinceRefresh.get());
        // Growth is measured from the mark: sockets opened since may be in the count or not, and
        // stay counted on top of it until the next read, so a lease that finds the budget spent
        // on their account must ask for that read, not wait for the periodic one.
        int socketsAtMark = (int) (mark >>> 32) - 1;
        socketsAtRefresh = socketsAtMark >= 0 ? socketsAtMark : sockets.get();
        kernelTotal = kernelCount;
        openedAndConnecting.addAndGet(-(mark & 0xFFFF_FFFFL) * OPENED);
        closingAtRefresh = closing; // closes under way: the table may lack their sockets, our counts do not
        refreshes++;
    }

    /**
     * A connect that waited for the endpoint's first kernel count in vain counts this pool's
     * sockets only (no others) until a read arrives, which may be never: a name only the
     * connector can resolve, a table that cannot be read. Not "the kernel said 0": that count
     * would keep every TIME_WAIT of ours the kernel has since dropped, and after enough of them
     * the budget would refuse every connect on account of sockets nobody holds. Under
     * {@link #readLock}, which a read holds from its mark to its refresh: a count that lands
     * between "none yet" and this write would otherwise be erased, and the others' sockets not
     * seen until the next read.
     */
    void countOursOnlyIfUnread() {
        readLock.lock();
        try {
            if (!kernelKnown()) {
                refreshed(OURS_ONLY, 0L);
            }
        } finally {
            readLock.unlock();
        }
    }

    /**
     * When (ticker time) the last TIME_WAIT of ours counted in the window leaves it, or
     * {@code now} if none is counted.
     */
    synchronized long quietAt(long now) {
        long second = now / 1_000_000_000L;
        long last = Long.MIN_VALUE;
        for (int i = 0; i < bucketSecond.length; i++) {
            if (bucketCount[i] > 0 && second - bucketSecond[i] <= WINDOW_SECONDS) {
                last = Math.max(last, bucketSecond[i]);
            }
        }
        return last == Long.MIN_VALUE ? now : (last + WINDOW_SECONDS + 1) * 1_000_000_000L;
    }

    /** Whether no socket of ours toward the endpoint is open or in the TIME_WAIT window: nothing to remember. */
    boolean isQuiet(long now) {
        return sockets.get() == 0 && recentTimeWait(now) == 0;
    }

    /** Sockets opened toward the endpoint since the kernel was last read. */
    int openedSinceRead() {
        return opened(openedAndConnecting.get());
    }

    /**
     * How much this pool's own use of ports grew since the kernel was last read: sockets opened
     * and not closed since, plus TIME_WAITs left by its closes since. A pool that opens and
     * closes without TIME_WAIT (the server closing first) does not grow, however fast it churns.
     */
    int grownSinceRead() {
        return sockets.get() + timeWaitSinceRefresh.get() - socketsAtRefresh;
    }

    /** Whether the budget has a count to go by: the kernel's, or ours only after a connect gave up waiting for it. */
    boolean kernelKnown() {
        return kernelTotal != UNREAD;
    }

    synchronized PortBudgetSnapshot.EndpointBudget usage(int budget, long now) {
        int live = Math.max(0, sockets.get());
        int timeWait = recentTimeWait(now);
        int others = 0;
        int kernel = kernelTotal;
        if (kernel >= 0) { // else unread, or ours only: no others known
            int kernelNow = kernel + opened(openedAndConnecting.get()) - closedSinceRefresh.get() + closingAtRefresh;
            others = Math.max(0, kernelNow - live - timeWait);
        }
        return new PortBudgetSnapshot.EndpointBudget(budget, live, timeWait, others);
    }
}
