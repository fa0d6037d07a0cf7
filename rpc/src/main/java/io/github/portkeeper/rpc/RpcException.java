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
    /** Whether the request was never sent, or went out on a reused connection that died before any response byte. */
    private final boolean retrySafe;

    /**
     * Creates a call failure. Thrown by {@link RpcClient}; subclasses say which failure it was.
     *
     * @param endpoint  the endpoint the call was for
     * @param message   what happened, naming the endpoint
     * @param cause     the underlying failure, or {@code null}
     * @param retrySafe whether the request can be sent again: it was never sent, or it went out on a
     *                  reused connection that died before any response byte
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
     * Whether the request can be sent again without much risk of being processed twice. Certain
     * only when the request never left this host (the connect failed). It is also {@code true}
     * when the request went out on a reused connection that turned out dead before a single
     * response byte came back: then the request was most likely not processed, since usually
     * the peer had closed the idle connection before the request arrived. A client cannot tell
     * that from a peer that processed the request and then closed or reset the connection
     * before replying, so retry only requests that are safe to repeat (idempotent ones), as
     * {@link RpcClient} does itself when it has a {@code Retry}; a retry goes out on a fresh
     * connection.
     *
     * @return {@code true} if the request was never sent, or most likely not processed
     */
    public boolean isRetrySafe() {
        return retrySafe;
    }
}
