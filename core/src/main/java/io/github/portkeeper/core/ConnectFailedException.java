package io.github.portkeeper.core;

/**
 * Opening a new connection failed. The message names the endpoint; the cause is the connector's
 * exception (for example {@link java.net.ConnectException} or a {@link java.net.BindException}
 * saying "Cannot assign requested address" when ephemeral ports are exhausted).
 */
public final class ConnectFailedException extends PoolException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates a connect failure; the message names the endpoint and the cause.
     *
     * @param endpoint the endpoint that could not be reached
     * @param cause    the connector's exception
     */
    public ConnectFailedException(Endpoint endpoint, Throwable cause) {
        super(endpoint, "Could not connect to " + endpoint + ": " + cause, cause);
    }
}
