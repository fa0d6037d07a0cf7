package io.github.portkeeper.core;

/** The pool was closed before or while the lease was waiting. */
public final class PoolClosedException extends PoolException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the refusal of a closed pool.
     *
     * @param endpoint the endpoint the lease was for
     * @param message  names the pool and the endpoint
     */
    public PoolClosedException(Endpoint endpoint, String message) {
        super(endpoint, message, null);
    }
}
