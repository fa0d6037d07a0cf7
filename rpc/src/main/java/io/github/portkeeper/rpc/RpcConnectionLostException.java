package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;

/**
 * The peer closed (end of stream) or reset the connection before the response was complete, or
 * sending the request failed. The connection is discarded.
 *
 * <p>{@link #isRetrySafe()} is {@code true} only when the connection was reused from the pool and
 * not a byte of response had arrived: the peer had closed the idle connection before the request
 * reached it.
 */
public final class RpcConnectionLostException extends RpcException {

    private static final long serialVersionUID = 1L;

    private final long responseBytes;
    private final boolean connectionReused;

    public RpcConnectionLostException(Endpoint endpoint, String message, Throwable cause, boolean retrySafe,
                                      long responseBytes, boolean connectionReused) {
        super(endpoint, message, cause, retrySafe);
        this.responseBytes = responseBytes;
        this.connectionReused = connectionReused;
    }

    /** Bytes of the response that had arrived before the connection was lost (0: none). */
    public long responseBytes() {
        return responseBytes;
    }

    /** Whether the connection had been reused from the pool rather than opened for this call. */
    public boolean connectionReused() {
        return connectionReused;
    }
}
