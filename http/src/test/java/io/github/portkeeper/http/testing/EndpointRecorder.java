package io.github.portkeeper.http.testing;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolListener;

/**
 * Remembers the endpoint of the last lease. The pool forgets an endpoint once it has no
 * connection left (but keeps what it learned about it), so a test that asks about an endpoint
 * after its connections ended must keep the endpoint itself.
 */
public final class EndpointRecorder implements PoolListener {

    private volatile Endpoint last;

    /** Records the endpoints {@code pool} leases from now on. */
    public static EndpointRecorder on(Pool<?> pool) {
        EndpointRecorder r = new EndpointRecorder();
        pool.addListener(r);
        return r;
    }

    @Override
    public void leased(Endpoint endpoint, boolean reused, long waitNanos) {
        last = endpoint;
    }

    /** The endpoint of the last lease. */
    public Endpoint last() {
        if (last == null) {
            throw new IllegalStateException("no lease yet");
        }
        return last;
    }
}
