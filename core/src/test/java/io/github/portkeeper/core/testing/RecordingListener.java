package io.github.portkeeper.core.testing;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolListener;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records every pool event as a short string, in order. */
public final class RecordingListener implements PoolListener {

    public final List<String> events = new CopyOnWriteArrayList<>();
    public final List<Throwable> leakTraces = new CopyOnWriteArrayList<>();

    @Override
    public void connectionOpened(Endpoint endpoint, long connectNanos) {
        events.add("opened " + endpoint);
    }

    @Override
    public void connectFailed(Endpoint endpoint, Throwable cause) {
        events.add("connectFailed " + endpoint);
    }

    @Override
    public void leased(Endpoint endpoint, boolean reused, long waitNanos) {
        events.add((reused ? "leased-reused " : "leased-new ") + endpoint);
    }

    @Override
    public void leaseTimedOut(Endpoint endpoint, long waitNanos) {
        events.add("timeout " + endpoint);
    }

    @Override
    public void leaseRejected(Endpoint endpoint, Throwable reason) {
        events.add("rejected " + endpoint);
    }

    @Override
    public void released(Endpoint endpoint, boolean reusable) {
        events.add((reusable ? "released " : "released-unusable ") + endpoint);
    }

    @Override
    public void connectionRetiring(Endpoint endpoint, CloseReason reason) {
        events.add("retiring " + reason + " " + endpoint);
    }

    @Override
    public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
        events.add("closed " + ending + " " + reason + " " + endpoint);
    }

    @Override
    public void leakSuspected(Endpoint endpoint, Duration heldFor, Throwable leasedAt) {
        events.add("leak " + endpoint);
        leakTraces.add(leasedAt);
    }

    public long count(String prefix) {
        return events.stream().filter(e -> e.startsWith(prefix)).count();
    }
}
