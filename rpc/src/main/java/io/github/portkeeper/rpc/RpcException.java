package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;

import java.io.IOException;

/**
 * A call failed. The subclass says how, the message names the endpoint, and
 * {@link #isRetrySafe()} says whether the failure is one that a retry of the same request is meant
 * for (see there: it is {@code false} for most failures, sent or not).
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
    /** Whether the connect failed, or the request went out on a reused connection that died before any response byte. */
    private final boolean retrySafe;

    /**
     * Creates a call failure. Thrown by {@link RpcClient}; subclasses say which failure it was.
     *
     * @param endpoint  the endpoint the call was for
     * @param message   what happened, naming the endpoint
     * @param cause     the underlying failure, or {@code null}
     * @param retrySafe whether this is a failure a retry is meant for: the connect failed (nothing
     *                  was sent), or the request went out on a reused connection that died before
     *                  any response byte
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
     * Whether this is a failure that a retry of the same request is meant for, with little risk
     * of its being processed twice. {@code true} when the connect failed (the request never left
     * this host; certain). It is also {@code true}
     * when the request went out on a reused connection that turned out dead before a single
     * response byte came back: then the request was most likely not processed, since usually
     * the peer had closed the idle connection before the request arrived. A client cannot tell
     * that from a peer that processed the request and then closed or reset the connection
     * before replying, so retry only requests that are safe to repeat (idempotent ones), as
     * {@link RpcClient} does itself when it has a {@code Retry}; a retry goes out on a fresh
     * connection.
     *
     * <p>It is {@code false} for every other failure, including some where the request was never
     * sent: a request the codec refused, no free connection in time, a closed client, a
     * connection the pool refused (port budget), a deadline passed before sending. Those are
     * not helped by sending again at once; {@link RpcTimeoutException#requestSent()} tells
     * whether a timed-out request went out.
     *
     * @return {@code true} if the connect failed, or the request was most likely not processed
     *         by a peer that had closed the reused connection
     */
    public boolean isRetrySafe() {
        return retrySafe;
    }
}
