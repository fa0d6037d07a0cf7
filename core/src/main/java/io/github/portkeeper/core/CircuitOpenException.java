package io.github.portkeeper.core;

/**
 * Connects to the endpoint keep failing, so its circuit breaker is open: the lease fails at once,
 * without a connect attempt, until the breaker lets a probe through again.
 */
public final class CircuitOpenException extends PoolException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the refusal of an open breaker.
     *
     * @param endpoint the endpoint whose breaker is open
     * @param detail   more about the breaker (its name, its state), or {@code null}
     * @param cause    the breaker library's refusal, or {@code null}
     */
    public CircuitOpenException(Endpoint endpoint, String detail, Throwable cause) {
        super(endpoint, "Circuit breaker for " + endpoint + " is open after repeated connect failures; not connecting"
                + (detail == null ? "" : " (" + detail + ")"), cause);
    }
}
