package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;

/**
 * No connection to the endpoint could be opened (refused, unreachable, connect timeout, or the
 * pool refused to open one). The request was not sent. Counts as a failure for the endpoint's
 * circuit breaker when the connect itself failed.
 */
public final class RpcConnectException extends RpcException {

    private static final long serialVersionUID = 1L;

    public RpcConnectException(Endpoint endpoint, String message, Throwable cause, boolean retrySafe) {
        super(endpoint, message, cause, retrySafe);
    }
}
