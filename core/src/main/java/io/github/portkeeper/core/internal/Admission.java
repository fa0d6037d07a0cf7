package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Connector;


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
    private final long watchDelayNanos;
    /** Whether connections past their lifetime get one last lease that asks the peer to close. */
    final boolean lastUseCapable;

    Admission(PoolEngine<C> engine, Connector<C> connector, long maxIdleNanos, int maxLeases,
              long watchDelayNanos, boolean lastUseCapable) {
        this.engine = engine;
        this.connector = connector;
        this.maxIdleNanos = maxIdleNanos;
        this.maxLeases = maxLeases;
        this.watchDelayNanos = watchDelayNanos;
        this.lastUseCapable = lastUseCapable;
    }

    /** Claims an idle connection that is still fit to lease, retiring unfit ones on the way. */
    PooledEntry<C> claimAndAdmit(EndpointPool<C> ep) {
        PooledEntry<C> e;
        while ((e = ep.claimIdle()) != null) {
            long now = engine.now();
            CloseReason unfit = unfitReason(e, now);
            if (unfit == null && now - e.idleSince >= watchDelayNanos && !quietSinceIdle(e)) {
                continue; // the peer closed it (or wrote to it) while it sat idle; it is gone
            }
            if (unfit == null || (lastUseCapable && unfit != CloseReason.IDLE_TIMEOUT)) {
                if (connector.validate(e.connection)) {
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
     * For a connection idle for a tick or more that the watcher has not registered yet (it lags
     * under load), looks for the peer's FIN before leasing it (see
     * {@link Housekeeper#quietSinceIdle}). Returns false, having closed or retired it, if
     * anything had arrived.
     */
    private boolean quietSinceIdle(PooledEntry<C> e) {
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
        if (now - e.idleSince >= engine.housekeeper.idleLimitNanos(e.pool, maxIdleNanos)) {
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
