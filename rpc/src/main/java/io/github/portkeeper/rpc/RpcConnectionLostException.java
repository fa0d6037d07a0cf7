package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;

/**
 * The peer closed (end of stream) or reset the connection before the response was complete, or
 * sending the request failed. The connection is discarded.
 *
 * <p>{@link #isRetrySafe()} is {@code true} only when the connection was reused from the pool and
 * not a byte of response had arrived: most likely the peer had closed the idle connection before
 * the request reached it. It cannot be told from a peer that processed the request and then closed
 * or reset before replying, so only requests safe to repeat should be retried.
 */
public final class RpcConnectionLostException extends RpcException {

    private static final long serialVersionUID = 1L;

    /** Bytes of the response that had arrived before the connection was lost. */
    private final long responseBytes;
    /** Whether the connection had been reused from the pool. */
    private final boolean connectionReused;

    /**
     * Creates a lost-connection failure.
     *
     * @param endpoint         the endpoint the call was for
     * @param message          what happened, naming the endpoint
     * @param cause            the I/O failure (reset, end of stream), or {@code null}
     * @param retrySafe        whether the request most likely did not reach the peer (a reused
     *                         connection, no response byte)
     * @param responseBytes    bytes of the response that had arrived (0: none)
     * @param connectionReused whether the connection had been reused from the pool
     */
    public RpcConnectionLostException(Endpoint endpoint, String message, Throwable cause, boolean retrySafe,
                                      long responseBytes, boolean connectionReused) {
        super(endpoint, message, cause, retrySafe);
        this.responseBytes = responseBytes;
        this.connectionReused = connectionReused;
    }

    /**
     * Bytes of the response that had arrived before the connection was lost.
     *
     * @return the count, 0 if none had
     */
    public long responseBytes() {
        return responseBytes;
    }

    /**
     * Whether the connection had been reused from the pool rather than opened for this call: a
     * reused connection lost before any response byte was most likely closed by the server while
     * it sat idle.
     *
     * @return {@code true} if reused, {@code false} if opened for this call
     */
    public boolean connectionReused() {
        return connectionReused;
    }
}
