package io.github.portkeeper.http.testing;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolListener;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts a pool's events cheaply enough for workloads of many thousands of leases, and keeps
 * every close and retirement. {@code timewait.caused} is {@code closed(LOCAL)}.
 */
public final class TallyListener implements PoolListener {

    /** A connection close as the pool reported it. */
    public record Closed(Endpoint endpoint, Ending ending, CloseReason reason) {
    }

    private final LongAdder opened = new LongAdder();
    private final LongAdder leases = new LongAdder();
    private final LongAdder reused = new LongAdder();
    private final ConcurrentLinkedQueue<Closed> closed = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<CloseReason> retiring = new ConcurrentLinkedQueue<>();

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
    public void connectionRetiring(Endpoint endpoint, CloseReason reason) {
        retiring.add(reason);
    }

    @Override
    public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
        closed.add(new Closed(endpoint, ending, reason));
    }

    /** Connections opened. */
    public long opened() {
        return opened.sum();
    }

    public long leases() {
        return leases.sum();
    }

    public long reused() {
        return reused.sum();
    }

    /** Connections closed with {@code ending}. */
    public long closed(Ending ending) {
        return closed.stream().filter(c -> c.ending() == ending).count();
    }

    /** Connections closed for {@code reason}. */
    public long closed(CloseReason reason) {
        return closed.stream().filter(c -> c.reason() == reason).count();
    }

    public long closedTotal() {
        return closed.size();
    }

    public List<Closed> closedEvents() {
        return List.copyOf(closed);
    }

    /** Reasons of the retirements reported so far, in order. */
    public List<CloseReason> retiringReasons() {
        return List.copyOf(retiring);
    }

    @Override
    public String toString() {
        return "Tally{opened=" + opened() + ", leases=" + leases() + ", reused=" + reused() + ", closed=" + closed
                + ", retiring=" + retiring + "}";
    }
}
