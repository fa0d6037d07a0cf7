package io.github.portkeeper.core;

/** No connection became available for an endpoint within the lease timeout. */
public final class LeaseTimeoutException extends PoolException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates a lease timeout.
     *
     * @param endpoint the endpoint the lease was for
     * @param message  how long the lease waited, naming the endpoint and its limits
     */
    public LeaseTimeoutException(Endpoint endpoint, String message) {
        super(endpoint, message, null);
    }
}
