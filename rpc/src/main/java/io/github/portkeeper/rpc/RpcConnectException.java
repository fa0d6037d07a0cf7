package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;

/**
 * No connection to the endpoint could be opened (refused, unreachable, connect timeout, or the
 * pool refused to open one). The request was not sent. Counts as a failure for the endpoint's
 * circuit breaker when the connect itself failed.
 */
public final class RpcConnectException extends RpcException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates a connect failure.
     *
     * @param endpoint  the endpoint that could not be reached
     * @param message   what happened, naming the endpoint
     * @param cause     the connect's failure, or {@code null}
     * @param retrySafe whether a retry may help: {@code true} when the connect itself failed,
     *                  {@code false} when the pool refused to open a connection
     */
    public RpcConnectException(Endpoint endpoint, String message, Throwable cause, boolean retrySafe) {
        super(endpoint, message, cause, retrySafe);
    }
}
