package io.github.portkeeper.core;

/** The pool was closed before or while the lease was waiting. */
public final class PoolClosedException extends PoolException {

    private static final long serialVersionUID = 1L;

    public PoolClosedException(Endpoint endpoint, String message) {
        super(endpoint, message, null);
    }
}
