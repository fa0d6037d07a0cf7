package io.github.portkeeper.core;

/** No connection became available for an endpoint within the lease timeout. */
public final class LeaseTimeoutException extends PoolException {

    private static final long serialVersionUID = 1L;

    public LeaseTimeoutException(Endpoint endpoint, String message) {
        super(endpoint, message, null);
    }
}
