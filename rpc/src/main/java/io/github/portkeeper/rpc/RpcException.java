package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;

import java.io.IOException;

/**
 * A call failed. The subclass says how, the message names the endpoint, and
 * {@link #isRetrySafe()} says whether the request can be sent again without being processed twice.
 *
 * <table>
 *   <caption>Call failures</caption>
 *   <tr><th>exception</th><th>what happened</th><th>connection</th></tr>
 *   <tr><td>{@link RpcConnectException}</td><td>no connection could be opened; the request was not sent</td><td>none</td></tr>
 *   <tr><td>{@link RpcTimeoutException}</td><td>no complete response within the call's timeout (or no free connection in time)</td><td>discarded (none if no connection became free)</td></tr>
 *   <tr><td>{@link RpcConnectionLostException}</td><td>the peer closed or reset the connection before the response was complete</td><td>discarded</td></tr>
 *   <tr><td>{@link RpcProtocolException}</td><td>the response could not be decoded, or exceeded the codec's maximum frame size</td><td>discarded</td></tr>
 *   <tr><td>{@link RpcCircuitOpenException}</td><td>the endpoint's circuit breaker is open; nothing was attempted</td><td>none</td></tr>
 * </table>
 *
 * <p>It is an {@link IOException}, since a call stands in for socket I/O and callers already
 * handle those. A discarded connection is never reused: its byte stream is out of step.
 */
public class RpcException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Endpoint endpoint;
    /** Whether the request provably was not processed by the peer. */
    private final boolean retrySafe;

    /**
     * Creates a call failure. Thrown by {@link RpcClient}; subclasses say which failure it was.
     *
     * @param endpoint  the endpoint the call was for
     * @param message   what happened, naming the endpoint
     * @param cause     the underlying failure, or {@code null}
     * @param retrySafe whether the request provably was not processed by the peer
     */
    public RpcException(Endpoint endpoint, String message, Throwable cause, boolean retrySafe) {
        super(message, cause);
        this.endpoint = endpoint;
        this.retrySafe = retrySafe;
    }

    /**
     * The endpoint the call was for.
     *
     * @return the endpoint, or {@code null} after deserialization (an endpoint is not serialized)
     */
    public Endpoint endpoint() {
        return endpoint;
    }

    /**
     * Whether the request can be sent again without risk of being processed twice: it provably
     * never reached the peer (the connect failed), or it went out on a reused connection that
     * turned out dead before a single response byte came back (the peer had closed it while it
     * sat idle). An idempotent call may be retried on a fresh connection; {@link RpcClient} does
     * so itself when it has a {@code Retry}.
     *
     * @return {@code true} if the request was certainly not processed by the peer
     */
    public boolean isRetrySafe() {
        return retrySafe;
    }
}
