package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.PoolException;


/**
 * Decides whether an idle connection may be leased: not past its lifetime, lease budget or idle
 * limit, nothing arrived from the peer while it sat idle, and the connector's validation accepts
 * it. Unfit connections are retired on the way; a claim either returns a fit connection or none.
 */
final class Admission<C> {

    private final PoolEngine<C> engine;
    private final Connector<C> connector;
    private final long maxIdleNanos;
    private final int maxLeases;
    /** Whether connections past their lifetime get one last lease that asks the peer to close. */
    final boolean lastUseCapable;

    Admission(PoolEngine<C> engine, Connector<C> connector, long maxIdleNanos, int maxLeases,
              boolean lastUseCapable) {
        this.engine = engine;
        this.connector = connector;
        this.maxIdleNanos = maxIdleNanos;
        this.maxLeases = maxLeases;
        this.lastUseCapable = lastUseCapable;
    }

    /**
     * Claims an idle connection that is still fit to lease, retiring unfit ones on the way.
     *
     * @throws PoolException if the connector's validation threw; the connection it was checking
     *                       has been discarded and its slot freed
     */
    PooledEntry<C> claimAndAdmit(EndpointPool<C> ep) throws PoolException {
        PooledEntry<C> e;
        while ((e = ep.claimIdle()) != null) {
            long now = engine.now();
            CloseReason unfit = unfitReason(e, now);
            if (unfit == null && !quietSinceIdle(e)) {
                continue; // the peer closed it (or wrote to it) while it sat idle; it is gone
            }
            if (unfit == null || (lastUseCapable && unfit != CloseReason.IDLE_TIMEOUT)) {
                if (validate(e)) {
                    // Past its lifetime or budget but the protocol can ask the peer to close on
                    // this last use (HTTP's Connection: close): one more lease, then it retires.
                    e.lastUse = unfit != null;
                    return e;
                }
                unfit = CloseReason.VALIDATION_FAILED;
            }
            engine.retirer.retire(e, unfit);
        }
        return null;
    }

    /**
     * {@link #claimAndAdmit} for a lease call that fails with the validation's exception: reports
     * the rejection. A waiter's hand-off calls {@code claimAndAdmit} itself and goes on to serve
     * the waiter, so it reports nothing (the lease's one outcome comes later).
     */
    PooledEntry<C> claimForLease(EndpointPool<C> ep) throws PoolException {
        try {
            return claimAndAdmit(ep);
        } catch (PoolException rejected) {
            engine.listeners.leaseRejected(ep.endpoint, rejected);
            throw rejected;
        }
    }

    /** Runs the connector's validation; a throw discards the connection and surfaces wrapped. */
    private boolean validate(PooledEntry<C> e) throws PoolException {
        try {
            return connector.validate(e.connection);
        } catch (RuntimeException | Error thrown) {
            engine.retirer.discard(e, CloseReason.VALIDATION_FAILED);
            throw new PoolException(e.pool.endpoint, "Connector.validate threw for a connection to "
                    + e.pool.endpoint + "; the connection was discarded: " + thrown, thrown);
        }
    }

    /**
     * Before a connection is leased again, at any idle age, looks without blocking for what the
     * peer sent while nobody held it: its FIN (a server that closed after its last response) or
     * bytes (a late duplicate reply). Either means it must not be leased; the watcher's one
     * classifier decides which (see {@link Housekeeper#quietSinceIdle}). A non-blocking read of
     * an empty socket and the mode switches around it: a few syscalls, no wait. Returns false,
     * having closed or retired it, if anything had arrived.
     */
    boolean quietSinceIdle(PooledEntry<C> e) {
        return engine.housekeeper.quietSinceIdle(e);
    }

    /** Why an idle connection must not be leased any more, or null if it may. */
    CloseReason unfitReason(PooledEntry<C> e, long now) {
        if (e.isExpired(now)) {
            return CloseReason.LIFETIME;
        }
        if (maxLeases > 0 && e.leaseCount >= maxLeases) {
            return CloseReason.LEASE_BUDGET;
        }
        if (now - e.idleSince >= engine.housekeeper.idleLimitNanos(e.pool, maxIdleNanos, now)) {
            return CloseReason.IDLE_TIMEOUT;
        }
        return null;
    }

    /** Why a connection given back must not be reused, judged at release (idleness aside), or null. */
    CloseReason unfitOnRelease(PooledEntry<C> e, long now) {
        if (e.isExpired(now)) {
            return CloseReason.LIFETIME;
        }
        return maxLeases > 0 && e.leaseCount >= maxLeases ? CloseReason.LEASE_BUDGET : null;
    }
}
