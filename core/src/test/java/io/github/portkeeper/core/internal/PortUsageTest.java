package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.PortBudgetSnapshot.EndpointBudget;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One endpoint's port accounting across a kernel read that races this pool's connects, in the
 * order the JVM's kernel reader and a leasing thread can take: the mark, connects, the table, the
 * refresh. The table cannot be read at the same instant as our counts, so a socket opened between
 * the mark and the table may or may not be in it; either way it is never counted as fewer than it
 * is, and the next read whose mark follows it counts it exactly.
 */
class PortUsageTest {

    private static final int BUDGET = 50;

    private final PortUsage ports = new PortUsage();

    /** A connect that completes: the port is taken within the budget and its socket exists. */
    private void connect() {
        assertThat(ports.tryTake(BUDGET, 0L)).isTrue();
        ports.connectDone();
    }

    private EndpointBudget usage() {
        return ports.usage(BUDGET, 0L);
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
}
