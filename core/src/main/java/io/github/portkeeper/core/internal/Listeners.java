package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolListener;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

/** Calls every listener, isolating the pool from a listener that throws. */
final class Listeners {

    private static final System.Logger LOG = System.getLogger(Listeners.class.getName());

    /** Copy-on-write: events read the array once; adding a listener is rare. */
    private volatile PoolListener[] all;

    Listeners(List<PoolListener> listeners) {
        this.all = listeners.toArray(new PoolListener[0]);
    }

    synchronized void add(PoolListener listener) {
        PoolListener[] grown = java.util.Arrays.copyOf(all, all.length + 1);
        grown[all.length] = listener;
        all = grown;
    }

    void connectionOpened(Endpoint endpoint, long connectNanos) {
        for (PoolListener l : all) {
            try {
                l.connectionOpened(endpoint, connectNanos);
            } catch (RuntimeException e) {
                failed(l, e);
            }
        }
    }

    void connectFailed(Endpoint endpoint, Throwable cause) {
        for (PoolListener l : all) {
            try {
                l.connectFailed(endpoint, cause);
            } catch (RuntimeException e) {
                failed(l, e);
            }
        }
    }

    void leased(Endpoint endpoint, boolean reused, long waitNanos) {
        for (PoolListener l : all) {
            try {
                l.leased(endpoint, reused, waitNanos);
            } catch (RuntimeException e) {
                failed(l, e);
            }
        }
    }

    void leaseTimedOut(Endpoint endpoint, long waitNanos) {
        for (PoolListener l : all) {
            try {
                l.leaseTimedOut(endpoint, waitNanos);
            } catch (RuntimeException e) {
                failed(l, e);
            }
        }
    }

    void leaseRejected(Endpoint endpoint, Throwable reason) {
        for (PoolListener l : all) {
            try {
                l.leaseRejected(endpoint, reason);
            } catch (RuntimeException e) {
                failed(l, e);
            }
        }
    }

    void released(Endpoint endpoint, boolean reusable) {
        for (PoolListener l : all) {
            try {
                l.released(endpoint, reusable);
            } catch (RuntimeException e) {
                failed(l, e);
            }
        }
    }

    void connectionRetiring(Endpoint endpoint, CloseReason reason) {
        offWatcherThread(l -> l.connectionRetiring(endpoint, reason));
    }

    /** A connection closed; as far as the caller can tell, it served a lease. */
    void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
        connectionClosed(endpoint, ending, reason, true);
    }

    /** A connection closed; {@code servedLease}: whether it ever served a lease. */
    void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason, boolean servedLease) {
        offWatcherThread(l -> {
            if (l instanceof ServedLeaseListener) {
                ((ServedLeaseListener) l).connectionClosed(endpoint, ending, reason, servedLease);
            } else {
                l.connectionClosed(endpoint, ending, reason);
            }
        });
    }

    void leakSuspected(Endpoint endpoint, Duration heldFor, Throwable leasedAt) {
        offWatcherThread(l -> l.leakSuspected(endpoint, heldFor, leasedAt));
    }

    void endpointRemoved(Endpoint endpoint) {
        offWatcherThread(l -> l.endpointRemoved(endpoint));
    }

    /**
     * Calls every listener with {@code event}, but never on the shared watcher's thread:
     * listeners are user code, and there they run on the watcher's worker instead, in order.
     * For the events the watcher can raise; the per-lease ones above stay loops of their own
     * so the hot path allocates no lambda.
     */
    private void offWatcherThread(Consumer<PoolListener> event) {
        if (IdleWatcher.shared().onWatcherThread()) {
            IdleWatcher.shared().offload(() -> callAll(event));
            return;
        }
        callAll(event);
    }

    private void callAll(Consumer<PoolListener> event) {
        for (PoolListener l : all) {
            try {
                event.accept(l);
            } catch (RuntimeException e) {
                failed(l, e);
            }
        }
    }

    private static void failed(PoolListener listener, RuntimeException e) {
        LOG.log(Level.WARNING, "Pool listener " + listener + " threw; ignored", e);
    }
}
