package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;

/**
 * The call's timeout passed: either no complete response arrived in time (the connection is
 * discarded: a late response would otherwise be read by the next call), or no connection became
 * free in time ({@link #requestSent()} is then {@code false}).
 */
public final class RpcTimeoutException extends RpcException {

    private static final long serialVersionUID = 1L;

    private final boolean requestSent;
    private final long responseBytes;

    public RpcTimeoutException(Endpoint endpoint, String message, Throwable cause, boolean requestSent, long responseBytes) {
        super(endpoint, message, cause, false);
        this.requestSent = requestSent;
        this.responseBytes = responseBytes;
    }

    /** Whether the request had been sent (false: the call timed out waiting for a connection). */
    public boolean requestSent() {
        return requestSent;
    }

    /** Bytes of the response that had arrived when the timeout passed. */
    public long responseBytes() {
        return responseBytes;
    }
}
