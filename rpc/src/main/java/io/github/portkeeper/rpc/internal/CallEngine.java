package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.ConnectFailedException;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.LeaseTimeoutException;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolClosedException;
import io.github.portkeeper.core.PoolException;
import io.github.portkeeper.core.internal.LeaseHandle;
import io.github.portkeeper.core.internal.Nanos;
import io.github.portkeeper.rpc.RpcCircuitOpenException;
import io.github.portkeeper.rpc.RpcCodec;
import io.github.portkeeper.rpc.RpcConnectException;
import io.github.portkeeper.rpc.RpcConnectionLostException;
import io.github.portkeeper.rpc.RpcException;
import io.github.portkeeper.rpc.RpcProtocolException;
import io.github.portkeeper.rpc.RpcTimeoutException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.core.IntervalBiFunction;
import io.github.resilience4j.core.functions.Either;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs calls: the request encoded once, before anything else; circuit breaker (one permission
 * per call, the call's outcome recorded); retry of idempotent calls after retry-safe failures
 * (each attempt on a fresh connection after a dead reused one, no wait past the deadline, a
 * wait cut short by {@link #close()}); and the exchange itself, which discards any connection
 * whose stream may be out of step. Thread-safe.
 */
public final class CallEngine<Req, Resp> {

    /** The longest a call waits, whatever its timeout: a year (longer ones are taken as this). */
    private static final long MAX_CALL_NANOS = TimeUnit.DAYS.toNanos(365);

    private final Pool<RpcConnection> pool;
    private final RpcCodec<Req, Resp> codec;
    private final Breakers breakers;
    private final CallRetry retry;
    /**
     * The waits between attempts, as the user configured them. The retry's own are zero: this
     * engine waits, so that {@link #close()} can end a wait (Resilience4j sleeps uninterruptibly
     * but for the thread's interrupt).
     */
    private final IntervalBiFunction<Object> retryWaits;
    private final long leaseTimeoutNanos;
    private final RequestBuffers buffers = new RequestBuffers();
    private final CountDownLatch closed = new CountDownLatch(1);

    /**
     * @param retry      the retry of idempotent calls, with no wait of its own; or {@code null}
     * @param retryWaits the wait before each further attempt, in milliseconds (as Resilience4j's
     *                   interval functions give it); {@code null} for none
     */
    public CallEngine(Pool<RpcConnection> pool, RpcCodec<Req, Resp> codec, Breakers breakers, CallRetry retry,
                      IntervalBiFunction<Object> retryWaits) {
        this.pool = pool;
        this.codec = codec;
        this.breakers = breakers;
        this.retry = retry;
        this.retryWaits = retryWaits;
        this.leaseTimeoutNanos = Nanos.saturated(pool.config().leaseTimeout());
    }

    /** Ends every wait between attempts at once: those calls fail as calls on a closed client do. Idempotent. */
    public void close() {
        closed.countDown();
    }

    public Resp call(Endpoint endpoint, Req request, Duration timeout, boolean idempotent) throws IOException {
        long start = System.nanoTime();
        long deadline = start + Math.min(Nanos.saturated(timeout), MAX_CALL_NANOS);
        // Encoded before anything else: a request that cannot be encoded takes no breaker
        // permission, no lease and no connect, so it counts nowhere as a request served.
        RequestBuffer encoded = buffers.take();
        try {
            encode(endpoint, request, encoded);
            CircuitBreaker breaker = breakers == null ? null : breakers.callStarted(endpoint);
            try {
                return callUnder(breaker, endpoint, encoded, timeout, deadline, idempotent, start);
            } finally {
                if (breaker != null) {
                    breakers.callEnded(endpoint, breaker);
                }
            }
        } finally {
            buffers.giveBack(encoded); // shrunk at once if this request left it large
        }
    }

    /** The call under its breaker's permission, its outcome recorded there. */
    private Resp callUnder(CircuitBreaker breaker, Endpoint endpoint, RequestBuffer encoded, Duration timeout, long deadline,
                           boolean idempotent, long start) throws IOException {
        if (breaker != null && !breaker.tryAcquirePermission()) {
            throw new RpcCircuitOpenException(endpoint, breaker.getName(), null);
        }
        try {
            Resp response = idempotent && retry != null
                    ? callWithRetry(endpoint, encoded, timeout, deadline)
                    : attempt(endpoint, encoded, timeout, deadline, false);
            if (breaker != null) {
                breaker.onSuccess(System.nanoTime() - start, TimeUnit.NANOSECONDS);
            }
            return response;
        } catch (IOException | RuntimeException | Error t) {
            if (breaker != null) {
                if (countsAgainstEndpoint(t)) {
                    breaker.onError(System.nanoTime() - start, TimeUnit.NANOSECONDS, t);
                } else {
                    breaker.releasePermission();
                }
            }
            throw t;
        }
    }

    private void encode(Endpoint endpoint, Req request, RequestBuffer buffer) throws IOException {
        try {
            codec.encode(request, buffer);
        } catch (IOException e) {
            throw new RpcException(endpoint, "Could not encode the request to " + endpoint + ": " + e.getMessage(), e, false);
        }
    }

    /**
     * Failures that say something about the endpoint: connects that failed, responses that did
     * not come, broke off or made no sense. Not: pool exhaustion, a closed client, interrupts.
     * (Requests the codec could not encode never reach the breaker.)
     */
    private static boolean countsAgainstEndpoint(Throwable t) {
        if (t instanceof RpcConnectionLostException || t instanceof RpcProtocolException) {
            return true;
        }
        if (t instanceof RpcTimeoutException) {
            return ((RpcTimeoutException) t).requestSent();
        }
        return t instanceof RpcConnectException && t.getCause() instanceof ConnectFailedException;
    }

    /**
     * The call, retried. Each call ends in exactly one bucket of the retry's metrics: through the
     * context where it counts the call rightly (a success; the last allowed attempt failing after
     * retries; a first attempt failing in a way not retried), else recorded by the engine (a call
     * cut at the deadline, by {@link #close()} or by an interrupt; one failing in a way not retried
     * after a retry, which the context would count as failed without retry attempt).
     */
    private Resp callWithRetry(Endpoint endpoint, RequestBuffer request, Duration timeout, long deadline) throws IOException {
        Retry.Context<Resp> context = retry.context();
        RetryConfig config = retry.getRetryConfig();
        boolean fresh = false;
        for (int failures = 1; ; failures++) {
            boolean retried = failures > 1;
            try {
                Resp response = attempt(endpoint, request, timeout, deadline, fresh);
                context.onComplete();
                return response;
            } catch (IOException | RuntimeException e) {
                boolean retryable = config.getExceptionPredicate().test(e);
                if (!retryable || failures >= config.getMaxAttempts()) {
                    recordEnd(context, e, retried, retryable);
                    throwIfInterrupted(endpoint, e);
                    throw e;
                }
                long waitMillis = waitBefore(failures, e);
                if (waitMillis > 0 && TimeUnit.MILLISECONDS.toNanos(waitMillis) >= deadline - System.nanoTime()) {
                    retry.callFailed(retried, true);
                    throw e; // no later attempt could start in time: waiting would only keep the caller waiting
                }
                if (Thread.currentThread().isInterrupted()) {
                    retry.callFailed(retried, true);
                    throwIfInterrupted(endpoint, e); // throws: an interrupt is never retried
                }
                try {
                    context.onError(e); // returns (without waiting: its waits are zero): another attempt is due
                } catch (Exception stop) {
                    // Only its zero sleep, ended by an interrupt, throws here: the attempt counted, the call not.
                    retry.callFailed(retried, false);
                    throwIfInterrupted(endpoint, e);
                    throw e;
                }
                try {
                    throwIfInterrupted(endpoint, e);
                    awaitNextAttempt(endpoint, e, waitMillis);
                    if (deadline - System.nanoTime() <= 0) {
                        throw e;
                    }
                } catch (IOException | RuntimeException ended) {
                    retry.callFailed(retried, false); // the context saw the failure, and expects another attempt
                    throw ended;
                }
                fresh |= e instanceof RpcConnectionLostException;
            } catch (Error error) {
                retry.callFailed(retried, true);
                throw error;
            }
        }
    }

    /**
     * Records the end of a call with {@code e}, not retried or the last allowed attempt's failure.
     * The context counts it rightly when {@code e} is not retried and was the first attempt's
     * ("failed without retry attempt"), or failed the last of several ("failed with retry
     * attempt"); any other end the engine records, in the bucket the retries so far say.
     */
    private void recordEnd(Retry.Context<Resp> context, Exception e, boolean retried, boolean retryable) {
        if (retryable != retried) {
            retry.callFailed(retried, true);
            return;
        }
        try {
            context.onError(e); // counts the call, and rethrows e
        } catch (Exception counted) {
            // the call ends with e all the same
        }
    }

    /**
     * The wait before the next attempt, in milliseconds, as Resilience4j would compute it; zero if
     * there is none. Asked once per failure, so a randomized wait is the one both checked against
     * the deadline and waited.
     */
    private long waitBefore(int failures, Exception e) {
        if (retryWaits == null) {
            return 0;
        }
        Long waitMillis = retryWaits.apply(failures, Either.left(e));
        return waitMillis == null || waitMillis < 0 ? 0 : waitMillis;
    }

    /**
     * Waits between attempts; a {@link #close()} ends the wait at once, and the call fails as one
     * on a closed client does, an interrupt as an interrupt during a call does.
     */
    private void awaitNextAttempt(Endpoint endpoint, Exception last, long waitMillis) throws IOException {
        if (waitMillis <= 0) {
            return;
        }
        boolean clientClosed;
        try {
            clientClosed = closed.await(waitMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throwIfInterrupted(endpoint, last);
            throw new IllegalStateException("unreachable: the interrupt status was just set", ie);
        }
        if (clientClosed) {
            String message = "RpcClient '" + pool.name() + "' is closed; cannot call " + endpoint;
            PoolClosedException cause = new PoolClosedException(endpoint, message + " (closed while the call waited to retry)");
            cause.addSuppressed(last);
            throw new RpcException(endpoint, message + " (closed while the call waited to retry after: " + last.getMessage() + ")",
                    cause, false);
        }
    }

    /** An interrupt is never retried: the call ends with an {@link InterruptedIOException}, the interrupt status kept. */
    private static void throwIfInterrupted(Endpoint endpoint, Exception e) throws InterruptedIOException {
        if (!Thread.currentThread().isInterrupted()) {
            return;
        }
        if (e instanceof InterruptedIOException && !(e instanceof SocketTimeoutException)) {
            throw (InterruptedIOException) e; // it already says so
        }
        InterruptedIOException ie = new InterruptedIOException("Interrupted during a call to " + endpoint + " before a retry");
        ie.initCause(e);
        throw ie;
    }

    private Resp attempt(Endpoint endpoint, RequestBuffer request, Duration timeout, long deadline, boolean fresh) throws IOException {
        Lease<RpcConnection> lease = lease(endpoint, timeout, deadline, fresh);
        boolean inStep = false;
        IOException lost = null;
        try {
            RpcConnection c = lease.connection();
            try {
                request.writeTo(c.out);
            } catch (IOException e) {
                lost = e;
                throw interruptedOr(e, endpoint, () -> new RpcConnectionLostException(endpoint,
                        "Connection to " + endpoint + " failed while sending the request (" + e + ")"
                                + (lease.isReused() ? "; it had been idle in the pool" : ""),
                        e, lease.isReused(), 0, lease.isReused()));
            }
            ResponseInput in = c.in;
            in.begin(deadline, codec.maxFrameSize());
            Resp response;
            try {
                response = codec.decode(in);
            } catch (IOException | RuntimeException e) {
                throw classify(endpoint, in, e, lease.isReused(), timeout);
            } finally {
                lost = in.failure(); // whatever the codec made of it
            }
            if (in.timedOut() || in.overLimit() || in.failure() != null) {
                // The codec made a response out of a failure underneath it (a timeout, a reset, the
                // frame limit). The call failed all the same, and the stream is out of step: a late
                // reply would reach the next call.
                throw classify(endpoint, in, null, lease.isReused(), timeout);
            }
            if (in.buffered() > 0) {
                throw new RpcProtocolException(endpoint, in.buffered() + " bytes nobody asked for followed the response from "
                        + endpoint + "; the stream is out of step", null);
            }
            // A codec that read up to the end of stream (a close-delimited response) has a good
            // response and a finished connection: the peer closed first, so closing it now is passive.
            inStep = !in.sawEndOfStream();
            return response;
        } finally {
            if (!inStep) {
                if (isLoss(lost)) {
                    // The call consumed the socket's error: the close's look for the FIN will find
                    // only an end of stream, which is what is left of the reset, not a FIN.
                    LeaseHandle.markLostUnderCall(lease);
                }
                lease.markBroken();
            }
            lease.close();
        }
    }

    /** A reset by the peer or an abort by this host's kernel: an I/O error that is neither a timeout nor a closed channel. */
    private static boolean isLoss(IOException e) {
        return e != null && !(e instanceof SocketTimeoutException) && !(e instanceof ClosedChannelException);
    }

    private Lease<RpcConnection> lease(Endpoint endpoint, Duration timeout, long deadline, boolean fresh) throws IOException {
        long remaining = deadline - System.nanoTime();
        boolean leaseTimeoutIsTheLimit = leaseTimeoutNanos < remaining;
        try {
            // After a reused connection turned out dead, the retry takes a new one directly: the
            // healthy idle connections stay pooled (retiring them one by one to reach a new one
            // cost connections and counted leases that served no call).
            Duration wait = leaseWait(endpoint, timeout, remaining);
            return fresh ? pool.leaseNew(endpoint, wait) : pool.lease(endpoint, wait);
        } catch (LeaseTimeoutException e) {
            // Name the limit that ended the wait: the pool's lease timeout when it was shorter
            // than what the call had left, else the call's own timeout.
            String limit = leaseTimeoutIsTheLimit
                    ? "the pool's lease timeout of " + Durations.describe(pool.config().leaseTimeout())
                    : "the call timeout of " + Durations.describe(timeout);
            throw new RpcTimeoutException(endpoint, "No connection to " + endpoint + " became free within " + limit
                    + ": " + e.getMessage(), e, false, 0);
        } catch (ConnectFailedException e) {
            // A connect cut short by an interrupt says nothing about the endpoint: not retried, not counted.
            throw interruptedOr(causeOf(e), endpoint, () -> new RpcConnectException(endpoint, e.getMessage(), e, true));
        } catch (PoolClosedException e) {
            throw new RpcException(endpoint, "RpcClient '" + pool.name() + "' is closed; cannot call " + endpoint, e, false);
        } catch (PoolException e) {
            // The pool reports an interrupt while waiting as a PoolException caused by it.
            throw interruptedOr(causeOf(e), endpoint,
                    () -> new RpcConnectException(endpoint, "No connection to " + endpoint + ": " + e.getMessage(), e, false));
        }
    }

    /** What a pool failure wraps, if it is an I/O failure (an interrupt, a connect error), else the failure itself. */
    private static IOException causeOf(PoolException e) {
        return e.getCause() instanceof IOException ? (IOException) e.getCause() : e;
    }

    private Duration leaseWait(Endpoint endpoint, Duration timeout, long remaining) throws RpcTimeoutException {
        if (remaining <= 0) {
            throw new RpcTimeoutException(endpoint, "Call timeout of " + Durations.describe(timeout) + " to " + endpoint
                    + " passed before the request was sent", null, false, 0);
        }
        return Duration.ofNanos(Math.min(remaining, leaseTimeoutNanos));
    }

    /** What went wrong while reading a response; {@code e} is what the codec threw, or null if it returned. */
    private IOException classify(Endpoint endpoint, ResponseInput in, Exception e, boolean reused, Duration timeout) {
        long got = in.delivered();
        String progress = got == 0 ? "before any response byte" : "after " + got + " bytes of the response";
        if (in.timedOut()) {
            return new RpcTimeoutException(endpoint, "No complete response from " + endpoint + " within " + Durations.describe(timeout)
                    + " (" + (got == 0 ? "nothing" : got + " bytes") + " received)", e, true, got);
        }
        if (in.overLimit()) {
            return new RpcProtocolException(endpoint, "Response from " + endpoint + " exceeds the codec's maximum frame size of "
                    + codec.maxFrameSize() + " bytes", e);
        }
        IOException failure = in.failure();
        if (failure != null) {
            return interruptedOr(failure, endpoint, () -> new RpcConnectionLostException(endpoint, "Connection to " + endpoint
                    + " failed " + progress + " (" + failure + ")", failure, reused && got == 0, got, reused));
        }
        if (in.sawEndOfStream()) {
            return new RpcConnectionLostException(endpoint, endpoint + " closed the connection " + progress
                    + (got == 0 && reused ? "; it had been idle in the pool" : ""), e, reused && got == 0, got, reused);
        }
        return new RpcProtocolException(endpoint, "Could not decode the response from " + endpoint + ": "
                + (e.getMessage() != null ? e.getMessage() : e.toString()), e);
    }

    /** An interrupted thread gets an {@link InterruptedIOException}, not a made-up connection failure. */
    private static IOException interruptedOr(IOException e, Endpoint endpoint, java.util.function.Supplier<IOException> otherwise) {
        if (e instanceof ClosedByInterruptException
                || (e instanceof InterruptedIOException && !(e instanceof SocketTimeoutException))) {
            Thread.currentThread().interrupt();
            InterruptedIOException ie = new InterruptedIOException("Interrupted during a call to " + endpoint);
            ie.initCause(e);
            return ie;
        }
        return otherwise.get();
    }
}
