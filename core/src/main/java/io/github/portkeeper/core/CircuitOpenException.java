package io.github.portkeeper.core;

/**
 * Connects to the endpoint keep failing, so its circuit breaker is open: the lease fails at once,
 * without a connect attempt, until the breaker lets a probe through again.
 */
public final class CircuitOpenException extends PoolException {

    private static final long serialVersionUID = 1L;

    public CircuitOpenException(Endpoint endpoint, String detail, Throwable cause) {
        super(endpoint, "Circuit breaker for " + endpoint + " is open after repeated connect failures; not connecting"
                + (detail == null ? "" : " (" + detail + ")"), cause);
    }
}
