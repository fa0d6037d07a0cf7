package io.github.portkeeper.core.testing;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolListener;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts a pool's events cheaply enough for workloads of many thousands of leases, and keeps
 * every close and retirement with the {@link System#nanoTime()} it was reported at. Stands in
 * for the Micrometer binding: {@code timewait.caused} is {@link #closed(Ending) closed(LOCAL)},
 * {@code timewait.avoided} is {@link #leases()} minus that.
 */
public final class TallyListener implements PoolListener {

    /** A connection close as the pool reported it. */
    public record Closed(Endpoint endpoint, Ending ending, CloseReason reason, long nanoTime) {
    }

    /** A retirement as the pool reported it. */
    public record Retiring(Endpoint endpoint, CloseReason reason, long nanoTime) {
    }

    private final LongAdder opened = new LongAdder();
    private final LongAdder leases = new LongAdder();
    private final LongAdder reused = new LongAdder();
    private final LongAdder released = new LongAdder();
    private final ConcurrentLinkedQueue<Closed> closed = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Retiring> retiring = new ConcurrentLinkedQueue<>();

    @Override
    public void connectionOpened(Endpoint endpoint, long connectNanos) {
        opened.increment();
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

    public long opened() {
        return opened.sum();
    }

    public long leases() {
        return leases.sum();
    }

    public long reused() {
        return reused.sum();
    }

    public long released() {
        return released.sum();
    }

    /** Connections closed with {@code ending}. */
    public long closed(Ending ending) {
        return closed.stream().filter(c -> c.ending() == ending).count();
    }

    public long closedTotal() {
        return closed.size();
    }

    public List<Closed> closedEvents() {
        return List.copyOf(closed);
    }

    public List<Retiring> retiringEvents() {
        return List.copyOf(retiring);
    }

    /** TIME_WAIT sockets the pool says it caused: connections we closed first. */
    public long timeWaitCaused() {
        return closed(Ending.LOCAL);
    }

    /** What a connection-per-request client would have left behind and the pool did not. */
    public long timeWaitAvoided() {
        return leases() - timeWaitCaused();
    }

    @Override
    public String toString() {
        return "Tally{opened=" + opened() + ", leases=" + leases() + ", reused=" + reused() + ", closed=" + closed
                + ", retiring=" + retiring + "}";
    }
}
