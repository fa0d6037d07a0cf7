package io.github.portkeeper.rpc.testing;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolListener;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** Counts a pool's events: connections opened, connects failed, and how each connection ended. */
public final class Tally implements PoolListener {

    /** One closed connection. */
    public record Closed(Endpoint endpoint, Ending ending, CloseReason reason) {
    }

    private final AtomicInteger opened = new AtomicInteger();
    private final AtomicInteger connectFailed = new AtomicInteger();
    private final AtomicInteger leasesReused = new AtomicInteger();
    private final List<Closed> closed = new CopyOnWriteArrayList<>();

    @Override
    public void connectionOpened(Endpoint endpoint, long connectNanos) {
        opened.incrementAndGet();
    }

    @Override
    public void connectFailed(Endpoint endpoint, Throwable cause) {
        connectFailed.incrementAndGet();
    }

    @Override
    public void leased(Endpoint endpoint, boolean reused, long waitNanos) {
        if (reused) {
            leasesReused.incrementAndGet();
        }
    }

    @Override
    public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
        closed.add(new Closed(endpoint, ending, reason));
    }

    public int opened() {
        return opened.get();
    }

    public int connectFailed() {
        return connectFailed.get();
    }

    public int leasesReused() {
        return leasesReused.get();
    }

    public List<Closed> closed() {
        return List.copyOf(closed);
    }

    public long closed(Ending ending) {
        return closed.stream().filter(c -> c.ending() == ending).count();
    }

    public long closed(Ending ending, CloseReason reason) {
        return closed.stream().filter(c -> c.ending() == ending && c.reason() == reason).count();
    }

    public long closedFor(CloseReason reason) {
        return closed.stream().filter(c -> c.reason() == reason).count();
    }
}
