package io.github.portkeeper.core;

import java.io.IOException;

/**
 * A lease could not be served. Subclasses say why. It is an {@link IOException} because a lease
 * stands in for opening a connection, and code that pools sockets already handles those.
 */
public class PoolException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Endpoint endpoint;

    public PoolException(Endpoint endpoint, String message, Throwable cause) {
        super(message, cause);
        this.endpoint = endpoint;
    }

    /** The endpoint the lease was for, or {@code null} if the failure concerns the whole pool. */
    public Endpoint endpoint() {
        return endpoint;
    }
}
