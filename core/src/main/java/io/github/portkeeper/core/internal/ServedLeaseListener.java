package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.PoolListener;

/**
 * A {@link PoolListener} that also wants to know, when a connection closes, whether it ever
 * served a lease. The metrics need it: a connection is credited one avoided TIME_WAIT, when it
 * ends, for the request its first lease served, and a connection that never served one (it
 * finished connecting as the pool closed) must not be. Such a listener gets this method instead
 * of {@link PoolListener#connectionClosed}.
 */
public interface ServedLeaseListener extends PoolListener {

    /**
     * A connection was closed.
     *
     * @param endpoint    the connection's endpoint
     * @param ending      how it ended
     * @param reason      why it was closed
     * @param servedLease whether it served at least one lease (false only for a connection the
     *                    pool gave up on before leasing it); sources that cannot tell (the
     *                    close-owning factory) say {@code true}
     */
    void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason, boolean servedLease);
}
