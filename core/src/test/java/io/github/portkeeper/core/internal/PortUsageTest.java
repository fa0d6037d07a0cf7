package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PortBudgetSnapshot.EndpointBudget;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One endpoint's port accounting across a kernel read that races this pool's connects, in the
 * order the JVM's kernel reader and a leasing thread can take: the mark, connects, the table, the
 * refresh. The table cannot be read at the same instant as our counts, so a socket opened between
 * the mark and the table may or may not be in it; either way it is never counted as fewer than it
 * is, and the next read whose mark follows it counts it exactly. Closes race a read the same way:
 * a socket that left the table before the read must not be taken off its count again.
 */
class PortUsageTest {

    private static final int BUDGET = 50;
    /** Sockets of other processes toward the endpoint, in every table read below. */
    private static final int OTHERS = 5;

    private final PortUsage ports = new PortUsage();

    /** A connect that completes: the port is taken within the budget and its socket exists. */
    private void connect() {
        assertThat(ports.tryTake(BUDGET, 0L)).isTrue();
        ports.connectDone();
    }

    private EndpointBudget usage() {
        return ports.usage(BUDGET, 0L);
    }

    /** One read of the kernel's table, which holds {@code ours} of our sockets besides the others'. */
    private void kernelRead(int ours) {
        ports.refreshed(OTHERS + ours, ports.markBeforeRefresh());
    }

    /** One connection open and counted by a read. */
    private void oneConnectionCounted() {
        kernelRead(0);
        connect();
        kernelRead(1);
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 1, 0, OTHERS));
    }

    /**
     * What a loaded machine did to {@code PortBudgetTest}: the first lease gave up waiting for the
     * endpoint's first count (ours only), the reader took its mark before the first connect, the
     * leasing thread opened five sockets, then the table was read and held them. They are counted
     * in the table and as opened since the mark: five "other" sockets, until the next read.
     */
    @Test
    void socketsOpenedBetweenTheMarkAndTheTableCountTwiceUntilTheNextRead() {
        ports.countOursOnlyIfUnread();
        long mark = ports.markBeforeRefresh();
        for (int i = 0; i < 5; i++) {
            connect();
        }
        ports.refreshed(5, mark); // the table saw all five
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 5, 0, 5));

        for (int i = 0; i < 5; i++) {
            connect();
        }
        assertThat(usage()).as("connects after the refresh are not in its count").isEqualTo(new EndpointBudget(BUDGET, 10, 0, 5));

        ports.refreshed(10, ports.markBeforeRefresh()); // nothing opened between this mark and its table
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 10, 0, 0));
    }

    /** The same race where the table was read before the sockets existed: counted once, as ours. */
    @Test
    void socketsOpenedBetweenTheMarkAndTheTableButMissingFromItCountOnce() {
        ports.countOursOnlyIfUnread();
        long mark = ports.markBeforeRefresh();
        for (int i = 0; i < 5; i++) {
            connect();
        }
        ports.refreshed(0, mark);
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 5, 0, 0));
    }

    /**
     * A connect in progress at the mark may reach the table or not: it stays counted on top of the
     * count (twice at worst, never missing) until a read marked after it completed.
     */
    @Test
    void aConnectInProgressAtTheMarkIsNeverMissingFromTheCount() {
        ports.refreshed(0, ports.markBeforeRefresh());
        assertThat(ports.tryTake(BUDGET, 0L)).isTrue();
        long mark = ports.markBeforeRefresh();
        ports.connectDone();
        ports.refreshed(1, mark); // the table saw it
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 1, 0, 1));

        assertThat(ports.tryTake(BUDGET, 0L)).isTrue();
        mark = ports.markBeforeRefresh();
        ports.refreshed(1, mark); // the table saw the first but missed the second, still connecting
        ports.connectDone();
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 2, 0, 0));
    }

    /**
     * The pool resets a connection: the socket leaves the kernel's table at the close, before the
     * pool accounts for it, and a whole read falls between. That read counted the table without
     * the socket; the accounting must not take it off that count once more (it did: 4 others of 5
     * until the next read, one connect too many allowed).
     */
    @Test
    void aResetSocketAReadAlreadyMissedIsNotTakenOffItsCountAgain() {
        oneConnectionCounted();
        long ticket = ports.closing();
        // the RST: gone from the table
        kernelRead(0);
        assertThat(usage()).as("between the read and the accounting").isEqualTo(new EndpointBudget(BUDGET, 1, 0, OTHERS));
        ports.closed(Ending.RESET, 0L, ticket);
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 0, 0, OTHERS));
    }

    /** The read's table may still hold the socket: then it counts once too many, until the next read. */
    @Test
    void aResetSocketAReadStillSawCountsAtWorstOnceTooManyUntilTheNextRead() {
        oneConnectionCounted();
        long ticket = ports.closing();
        kernelRead(1);
        // the RST: gone from the table
        ports.closed(Ending.RESET, 0L, ticket);
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 0, 0, OTHERS + 1));
        kernelRead(0);
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 0, 0, OTHERS));
    }

    /**
     * With no read during the close, the socket is taken off the last count at once: a pool whose
     * server closes first churns without its closes piling up as others' sockets.
     */
    @Test
    void aCloseNoReadRacedIsTakenOffTheCountAtOnce() {
        oneConnectionCounted();
        long ticket = ports.closing();
        ports.closed(Ending.PEER, 0L, ticket);
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 0, 0, OTHERS));
        assertThat(ports.grownSinceRead()).isEqualTo(-1);
    }

    /**
     * The peer reset a connection while it sat in the pool: the socket left the table then, and a
     * read before the pool noticed counted the table without it. Closing it later must not take
     * it off that count again. (Until the pool notices, it is counted as ours and missing from
     * the count: the budget's total holds, the reset freed the port; its share of others is one
     * low.)
     */
    @Test
    void aConnectionThePeerResetBeforeAReadIsNotTakenOffItsCountAgain() {
        oneConnectionCounted();
        // the peer's RST: gone from the table
        kernelRead(0);
        assertThat(usage().used()).as("the total while the pool has not noticed").isEqualTo(OTHERS);
        long ticket = ports.closing();
        ports.closed(Ending.ABORTED, 0L, ticket);
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 0, 0, OTHERS));
    }

    /**
     * Our FIN first: the socket stays in the table as TIME_WAIT, so a read during the close still
     * counts it, as ours, and the pool's own use of ports did not grow.
     */
    @Test
    void aTimeWaitCloseRacingAReadStaysCountedOnceAsOurs() {
        oneConnectionCounted();
        long ticket = ports.closing();
        kernelRead(1); // its row, now TIME_WAIT
        ports.closed(Ending.LOCAL, 0L, ticket);
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 0, 1, OTHERS));
        assertThat(ports.grownSinceRead()).isZero();
    }

    /**
     * Sockets opened between a read's mark and its table count twice until the next read (the
     * safe way round); they count as growth too, so a lease that finds the budget spent on their
     * account asks for that read instead of waiting for the periodic one (with growth 0 it did not,
     * and a short lease timeout ended in a false budget exhaustion).
     */
    @Test
    void socketsOpenedBetweenTheMarkAndTheTableCountAsGrowthUntilTheNextRead() {
        kernelRead(0);
        long mark = ports.markBeforeRefresh();
        for (int i = 0; i < 5; i++) {
            connect();
        }
        ports.refreshed(OTHERS + 5, mark); // the table saw all five
        assertThat(usage()).isEqualTo(new EndpointBudget(BUDGET, 5, 0, OTHERS + 5));
        assertThat(ports.grownSinceRead()).isEqualTo(5);

        kernelRead(5);
        assertThat(ports.grownSinceRead()).isZero();
    }
}
