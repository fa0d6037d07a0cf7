package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;

/**
 * The response could not be decoded: the codec rejected it (garbage, a length prefix over the
 * maximum frame size, malformed text), it exceeded the codec's {@link RpcCodec#maxFrameSize()},
 * or bytes nobody asked for followed it. The byte stream is out of step, so the connection is
 * discarded; the request may well have been processed.
 */
public final class RpcProtocolException extends RpcException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates a protocol failure; never retry-safe, since the request may have been processed.
     *
     * @param endpoint the endpoint the call was for
     * @param message  what was wrong with the response, naming the endpoint
     * @param cause    the codec's exception, or {@code null}
     */
    public RpcProtocolException(Endpoint endpoint, String message, Throwable cause) {
        super(endpoint, message, cause, false);
    }
}
