package io.github.portkeeper.rpc.internal;

import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;

import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * The client's Resilience4j {@link Retry}, whose metrics count every call the engine ends.
 *
 * <p>Why: a {@link Retry.Context} counts a call only when it ends the call itself: a success
 * ({@code onComplete}), the last attempt failing ({@code onError}, attempts used up: "failed with
 * retry attempt") or a failure not meant for retry ({@code onError}: "failed without retry
 * attempt", even after retries). The engine ends calls it cannot end through the context: at
 * the deadline, on {@code close()}, on an interrupt between attempts; and a failure not retried
 * after a retry would land in the wrong bucket. Those calls the engine records here with
 * {@link #callFailed}, and never also through the context, so each call is in exactly one bucket
 * and every counter only ever grows. Events, configuration and contexts are the wrapped retry's.
 * Thread-safe.
 */
public final class CallRetry implements Retry {

    private final Retry retry;
    private final LongAdder failedWithRetry = new LongAdder();
    private final LongAdder failedWithoutRetry = new LongAdder();
    private final LongAdder attempts = new LongAdder();
    private final Metrics metrics = new CallMetrics();

    public CallRetry(Retry retry) {
        this.retry = retry;
    }

    /**
     * Records a failed call the engine ended without the context counting it.
     *
     * @param retried              whether an attempt of the call had been retried
     * @param lastAttemptUncounted whether the context has not seen the last attempt's failure
     *                             (its {@code onError} was not called for it)
     */
    void callFailed(boolean retried, boolean lastAttemptUncounted) {
        if (lastAttemptUncounted) {
            attempts.increment();
        }
        (retried ? failedWithRetry : failedWithoutRetry).increment();
    }

    @Override
    public <T> Context<T> context() {
        return retry.context();
    }

    @Override
    public <T> AsyncContext<T> asyncContext() {
        return retry.asyncContext();
    }

    @Override
    public String getName() {
        return retry.getName();
    }

    @Override
    public RetryConfig getRetryConfig() {
        return retry.getRetryConfig();
    }

    @Override
    public Map<String, String> getTags() {
        return retry.getTags();
    }

    @Override
    public EventPublisher getEventPublisher() {
        return retry.getEventPublisher();
    }

    @Override
    public Metrics getMetrics() {
        return metrics;
    }

    @Override
    public String toString() {
        return "CallRetry{" + retry.getName() + "}";
    }

    private final class CallMetrics implements Metrics {

        @Override
        public long getNumberOfSuccessfulCallsWithoutRetryAttempt() {
            return retry.getMetrics().getNumberOfSuccessfulCallsWithoutRetryAttempt();
        }

        @Override
        public long getNumberOfFailedCallsWithoutRetryAttempt() {
            return retry.getMetrics().getNumberOfFailedCallsWithoutRetryAttempt() + failedWithoutRetry.sum();
        }

        @Override
        public long getNumberOfSuccessfulCallsWithRetryAttempt() {
            return retry.getMetrics().getNumberOfSuccessfulCallsWithRetryAttempt();
        }

        @Override
        public long getNumberOfFailedCallsWithRetryAttempt() {
            return retry.getMetrics().getNumberOfFailedCallsWithRetryAttempt() + failedWithRetry.sum();
        }

        @Override
        public long getNumberOfTotalCalls() {
            return retry.getMetrics().getNumberOfTotalCalls() + attempts.sum();
        }
    }
}
