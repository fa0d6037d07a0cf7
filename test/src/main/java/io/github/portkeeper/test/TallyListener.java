package io.github.portkeeper.test;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolListener;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;

/**
 * Tallies a pool's events, cheaply enough for workloads of many thousands of leases, and keeps
 * every close and retirement with the {@link System#nanoTime()} it was reported at. The counts are
 * the Micrometer binding's: {@link #closed(Ending) closed(Ending.FAILED)}, like
 * {@code portkeeper.connections.closed{closed.by=failed}}, includes the connects that failed.
 * {@link #timeWaitCaused()} is what the Micrometer binding's {@code timewait.caused} counts
 * (connections that ended {@link Ending#LOCAL}); {@link #timeWaitAvoided()} is the design's
 * formula for {@code timewait.avoided}, leases minus TIME_WAIT caused, which the counter reaches
 * once every connection has ended and none was discarded as broken.
 *
 * <pre>{@code
 * TallyListener tally = new TallyListener();
 * pool.addListener(tally);
 * }</pre>
 *
 * <p>Thread-safety: safe for the pool to call from any thread while a test reads it.
 */
public final class TallyListener implements PoolListener {

    /**
     * A connection close as the pool reported it.
     *
     * @param endpoint where the connection went
     * @param ending how it ended
     * @param reason why it was closed
     * @param nanoTime {@link System#nanoTime()} when it was reported
     */
    public record Closed(Endpoint endpoint, Ending ending, CloseReason reason, long nanoTime) {
    }

    /**
     * A retirement as the pool reported it.
     *
     * @param endpoint where the connection went
     * @param reason why it was retired
     * @param nanoTime {@link System#nanoTime()} when it was reported
     */
    public record Retiring(Endpoint endpoint, CloseReason reason, long nanoTime) {
    }

    private final LongAdder opened = new LongAdder();
    private final LongAdder connectFailed = new LongAdder();
    private final LongAdder leases = new LongAdder();
    private final LongAdder reused = new LongAdder();
    private final LongAdder released = new LongAdder();
    private final ConcurrentLinkedQueue<Closed> closed = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Retiring> retiring = new ConcurrentLinkedQueue<>();

    /** Creates a listener with every count at zero. */
    public TallyListener() {
    }

    @Override
    public void connectionOpened(Endpoint endpoint, long connectNanos) {
        opened.increment();
    }

    @Override
    public void connectFailed(Endpoint endpoint, Throwable cause) {
        connectFailed.increment();
    }

    @Override
    public void leased(Endpoint endpoint, boolean fromIdle, long waitNanos) {
        leases.increment();
        if (fromIdle) {
            reused.increment();
        }
    }

    @Override
    public void released(Endpoint endpoint, boolean reusable) {
        released.increment();
    }

    @Override
    public void connectionRetiring(Endpoint endpoint, CloseReason reason) {
        retiring.add(new Retiring(endpoint, reason, System.nanoTime()));
    }

    @Override
    public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
        closed.add(new Closed(endpoint, ending, reason, System.nanoTime()));
    }

    /**
     * Returns the connections opened.
     *
     * @return the count
     */
    public long opened() {
        return opened.sum();
    }

    /**
     * Returns the connects that failed.
     *
     * @return the count
     */
    public long connectFailed() {
        return connectFailed.sum();
    }

    /**
     * Returns the leases granted, new and reused.
     *
     * @return the count
     */
    public long leases() {
        return leases.sum();
    }

    /**
     * Returns the leases served by an idle pooled connection.
     *
     * @return the count
     */
    public long reused() {
        return reused.sum();
    }

    /**
     * Returns the leases given back.
     *
     * @return the count
     */
    public long released() {
        return released.sum();
    }

    /**
     * Returns the connections that ended as {@code ending}, as the
     * {@code portkeeper.connections.closed} meter tagged with that ending counts them: for
     * {@link Ending#FAILED} that includes the {@linkplain #connectFailed() connects that failed},
     * which end before there is a connection to close, so they have no {@link CloseReason} and
     * are not among {@link #closedEvents()} or in {@link #closedTotal()}.
     *
     * @param ending how they ended
     * @return the count
     */
    public long closed(Ending ending) {
        long closes = closed.stream().filter(c -> c.ending() == ending).count();
        return ending == Ending.FAILED ? closes + connectFailed() : closes;
    }

    /**
     * Returns the connections closed for {@code reason}.
     *
     * @param reason why they were closed
     * @return the count
     */
    public long closed(CloseReason reason) {
        return closed.stream().filter(c -> c.reason() == reason).count();
    }

    /**
     * Returns the connections that ended as {@code ending} for {@code reason}.
     *
     * @param ending how they ended
     * @param reason why they were closed
     * @return the count
     */
    public long closed(Ending ending, CloseReason reason) {
        return closed.stream().filter(c -> c.ending() == ending && c.reason() == reason).count();
    }

    /**
     * Returns all connections closed: every one reported closed after it was opened, so it equals
     * {@link #opened()} once all have ended. Failed connects are not in it; the
     * {@code portkeeper.connections.closed} meter, summed over its endings, counts them too, as
     * {@code closedTotal() + connectFailed()} does.
     *
     * @return the count
     */
    public long closedTotal() {
        return closed.size();
    }

    /**
     * Returns the closes reported so far, in order.
     *
     * @return an immutable copy
     */
    public List<Closed> closedEvents() {
        return List.copyOf(closed);
    }

    /**
     * Returns the retirements reported so far, in order.
     *
     * @return an immutable copy
     */
    public List<Retiring> retiringEvents() {
        return List.copyOf(retiring);
    }

    /**
     * Returns the reasons of the retirements reported so far, in order.
     *
     * @return an immutable list
     */
    public List<CloseReason> retiringReasons() {
        return retiring.stream().map(Retiring::reason).toList();
    }

    /**
     * Returns the TIME_WAIT sockets the pool says it caused: connections it closed first.
     *
     * @return what {@code portkeeper.timewait.caused} counts
     */
    public long timeWaitCaused() {
        return closed(Ending.LOCAL);
    }

    /**
     * Returns what a connection-per-request client would have left behind and the pool did not:
     * leases minus TIME_WAIT caused. The {@code portkeeper.timewait.avoided} counter credits a new
     * connection only when it ends, and never one discarded as broken, so it is lower while
     * connections are open and after broken ones.
     *
     * @return leases minus {@link #timeWaitCaused()}
     */
    public long timeWaitAvoided() {
        return leases() - timeWaitCaused();
    }

    /** Returns the counts, for assertion messages. */
    @Override
    public String toString() {
        return "TallyListener{opened=" + opened() + ", connectFailed=" + connectFailed() + ", leases=" + leases()
                + ", reused=" + reused() + ", closed=" + closed + ", retiring=" + retiring + "}";
    }
}
