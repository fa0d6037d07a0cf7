package io.github.portkeeper.core;

import java.io.IOException;

/**
 * A lease could not be served. Subclasses say why. It is an {@link IOException} because a lease
 * stands in for opening a connection, and code that pools sockets already handles those.
 */
public class PoolException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Endpoint endpoint;

    /**
     * Creates a lease failure.
     *
     * @param endpoint the endpoint the lease was for, or {@code null} if the failure concerns the
     *                 whole pool
     * @param message  what happened, naming the endpoint
     * @param cause    the underlying failure, or {@code null}
     */
    public PoolException(Endpoint endpoint, String message, Throwable cause) {
        super(message, cause);
        this.endpoint = endpoint;
    }

    /**
     * The endpoint the lease was for. Not serialized.
     *
     * @return the endpoint, or {@code null} if the failure concerns the whole pool or the
     *         exception was deserialized
     */
    public Endpoint endpoint() {
        return endpoint;
    }
}
