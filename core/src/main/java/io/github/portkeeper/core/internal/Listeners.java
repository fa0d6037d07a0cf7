package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolListener;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

/**
 * Calls every listener, isolating the pool from a listener that throws.
 *
 * <p>Whatever a listener throws, an {@link Error} included (an {@code AssertionError} in a test
 * listener, a {@code NoClassDefFoundError} in a metrics binding), is logged and the next listener
 * is called. Events fire in the middle of the pool's moves (a new connection counted but not yet
 * leased, a closed one not yet forgotten), on whatever thread caused them: an Error let through
 * would leave a move half done (a connection leased to nobody, a slot never given back) and reach
 * a caller whose call did nothing wrong. Rethrowing it after the move instead would need every
 * event site to finish first, and would still fail a lease or a close that succeeded. A listener
 * is an observer: its failure is reported, at ERROR for an Error, and never becomes the pool's.
 *
 * <p>Public only for {@link ClosingListener}; not part of the API.
 */
public final class Listeners {

    /**
     * A listener that is also told when its pool has closed: the metrics binding, which then
     * registers no more meters and leaves its meters for the next binding of its pool's name to
     * remove (a pool built again under the same name would otherwise report through the closed
     * pool's gauges, as a registry hands back the meter already registered under an ID). Not
     * part of the API.
     */
    public interface ClosingListener extends PoolListener {

        /** The pool has closed: its idle and draining connections are closed. Called once. */
        void poolClosed();
    }

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
            } catch (Throwable e) {
                failed(l, e);
            }
        }
    }

    void connectFailed(Endpoint endpoint, Throwable cause) {
        for (PoolListener l : all) {
            try {
                l.connectFailed(endpoint, cause);
            } catch (Throwable e) {
                failed(l, e);
            }
        }
    }

    void leased(Endpoint endpoint, boolean reused, long waitNanos) {
        for (PoolListener l : all) {
            try {
                l.leased(endpoint, reused, waitNanos);
            } catch (Throwable e) {
                failed(l, e);
            }
        }
    }

    void leaseTimedOut(Endpoint endpoint, long waitNanos) {
        for (PoolListener l : all) {
            try {
                l.leaseTimedOut(endpoint, waitNanos);
            } catch (Throwable e) {
                failed(l, e);
            }
        }
    }

    void leaseRejected(Endpoint endpoint, Throwable reason) {
        for (PoolListener l : all) {
            try {
                l.leaseRejected(endpoint, reason);
            } catch (Throwable e) {
                failed(l, e);
            }
        }
    }

    void released(Endpoint endpoint, boolean reusable) {
        for (PoolListener l : all) {
            try {
                l.released(endpoint, reusable);
            } catch (Throwable e) {
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

    /** The pool has closed: tells each {@link ClosingListener}. */
    void poolClosed() {
        offWatcherThread(l -> {
            if (l instanceof ClosingListener) {
                ((ClosingListener) l).poolClosed();
            }
        });
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
            } catch (Throwable e) {
                failed(l, e);
            }
        }
    }

    private static void failed(PoolListener listener, Throwable e) {
        try {
            LOG.log(e instanceof Error ? Level.ERROR : Level.WARNING, "Pool listener " + describe(listener) + " threw; ignored", e);
        } catch (RuntimeException | Error logging) {
            // a logger that fails (or an OutOfMemoryError building the message) must not fail the pool's move
        }
    }

    /** The listener's {@code toString} is its code too, and may throw. */
    private static String describe(PoolListener listener) {
        try {
            return String.valueOf(listener);
        } catch (RuntimeException | Error e) {
            return listener.getClass().getName();
        }
    }
}
