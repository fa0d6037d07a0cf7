package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;

/**
 * The call's timeout passed: either no complete response arrived in time (the connection is
 * discarded: a late response would otherwise be read by the next call), or no connection became
 * free in time ({@link #requestSent()} is then {@code false}).
 */
public final class RpcTimeoutException extends RpcException {

    private static final long serialVersionUID = 1L;

    /** Whether the request had been sent. */
    private final boolean requestSent;
    /** Bytes of the response that had arrived in time. */
    private final long responseBytes;

    /**
     * Creates a timeout failure; never retry-safe, since the request may have been processed.
     *
     * @param endpoint      the endpoint the call was for
     * @param message       what timed out and after how long, naming the endpoint
     * @param cause         the underlying timeout, or {@code null}
     * @param requestSent   whether the request had been sent ({@code false}: no connection in time)
     * @param responseBytes bytes of the response that had arrived when the timeout passed
     */
    public RpcTimeoutException(Endpoint endpoint, String message, Throwable cause, boolean requestSent, long responseBytes) {
        super(endpoint, message, cause, false);
        this.requestSent = requestSent;
        this.responseBytes = responseBytes;
    }

    /**
     * Whether the request had been sent.
     *
     * @return {@code false} if the call timed out waiting for a connection
     */
    public boolean requestSent() {
        return requestSent;
    }

    /**
     * Bytes of the response that had arrived when the timeout passed.
     *
     * @return the count, 0 if none had
     */
    public long responseBytes() {
        return responseBytes;
    }
}
