package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;

/**
 * The endpoint's circuit breaker is open (recent calls kept failing): the call failed at once,
 * without a connect attempt or a request. Calls are let through again once the breaker's wait in
 * the open state has passed.
 */
public final class RpcCircuitOpenException extends RpcException {

    private static final long serialVersionUID = 1L;

    /** The name of the breaker that refused the call. */
    private final String breakerName;

    /**
     * Creates the refusal of an open breaker; always retry-safe, since nothing was sent.
     *
     * @param endpoint    the endpoint the call was for
     * @param breakerName the name of the open breaker
     * @param cause       Resilience4j's refusal, or {@code null}
     */
    public RpcCircuitOpenException(Endpoint endpoint, String breakerName, Throwable cause) {
        super(endpoint, "Circuit breaker '" + breakerName + "' for " + endpoint
                + " is open after repeated failures; the call was not attempted", cause, true);
        this.breakerName = breakerName;
    }

    /**
     * The name of the Resilience4j circuit breaker that refused the call.
     *
     * @return the breaker's name in the client's registry
     */
    public String breakerName() {
        return breakerName;
    }
}
