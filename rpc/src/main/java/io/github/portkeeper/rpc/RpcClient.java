package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PoolListener;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.internal.Nanos;
import io.github.portkeeper.rpc.internal.Breakers;
import io.github.portkeeper.rpc.internal.CallEngine;
import io.github.portkeeper.rpc.internal.CallRetry;
import io.github.portkeeper.rpc.internal.RpcConnection;
import io.github.portkeeper.rpc.internal.RpcConnector;
import io.github.portkeeper.rpc.internal.SocketOptions;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.retry.RetryRegistry;

import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * A synchronous request/response client over pooled TCP connections: a protocol is a
 * {@link RpcCodec}, connections are Portkeeper's (reused most-recent-first, idle ones watched,
 * and closed by the server first so this host keeps no TIME_WAIT).
 *
 * <pre>{@code
 * try (RpcClient<byte[], byte[]> client = RpcClient.builder(LengthPrefixedCodec.withMaxPayload(1 << 20))
 *         .poolConfig(PoolConfig.builder().name("pricing").maxPerEndpoint(8).build())
 *         .circuitBreaker(CircuitBreakerConfig.ofDefaults())
 *         .build()) {
 *     byte[] reply = client.call(Endpoint.of("pricing", 7000), request, Duration.ofMillis(500));
 * }
 * }</pre>
 *
 * <p><b>Failures.</b> A call fails with an {@link RpcException} naming the endpoint (see its table),
 * or an {@link java.io.InterruptedIOException} if the thread is interrupted (while it waits for
 * or opens a connection, too; an interrupt is never retried and never counts against the
 * endpoint's circuit breaker). A codec that rejects a request throws before anything is sent.
 * After a timeout, a
 * lost connection or a protocol error the connection is discarded, never reused: its stream may
 * be out of step.
 *
 * <p><b>Close ownership.</b> Connections retire by {@code REQUEST_PEER_CLOSE} when the codec has a
 * {@linkplain RpcCodec#goodbye() goodbye}, else by {@code AWAIT_PEER}; discarded ones are reset
 * (no TIME_WAIT on either side for those) unless the retirement policy is {@code LOCAL}.
 *
 * <p><b>Resilience.</b> With a circuit breaker configured, each endpoint has its own; while it is
 * open, calls fail at once with {@link RpcCircuitOpenException} and no connect is attempted. A
 * breaker leaves its registry when the pool forgets its endpoint (unless its circuit is open) and
 * when the client closes.
 * Idempotent calls are retried (by default up to 3 attempts) when the failure was
 * {@linkplain RpcException#isRetrySafe() retry safe}; after a dead reused connection the retry
 * takes a new one. Retries stop at the call's deadline: a wait between attempts that would end
 * at or past it is not waited.
 *
 * <p>Thread-safe: share one client; each call uses one connection exclusively.
 *
 * @param <Req>  the request type
 * @param <Resp> the response type
 */
public final class RpcClient<Req, Resp> implements AutoCloseable {

    private final Pool<RpcConnection> pool;
    private final RpcCodec<Req, Resp> codec;
    private final CallEngine<Req, Resp> engine;
    private final Duration defaultTimeout;
    private final CircuitBreakerRegistry breakerRegistry;
    private final Breakers breakers;
    private final RetryRegistry retryRegistry;
    private final CallRetry retry;

    private RpcClient(Builder<Req, Resp> b) {
        this.codec = b.codec;
        Retirement retirement = b.retirement != null ? b.retirement
                : codec.goodbye().isPresent() ? Retirement.requestPeerClose(b.drainTimeout) : Retirement.awaitPeer(b.drainTimeout);
        PoolConfig config = b.poolConfig.toBuilder().retirement(retirement).build();
        SocketOptions options = new SocketOptions(Nanos.socketMillis(b.connectTimeout), 0, b.tcpNoDelay, b.keepAlive);
        this.breakerRegistry = b.breakerRegistry;
        // Claimed before the pool opens: a name taken in a shared registry refuses the client.
        this.breakers = breakerRegistry == null ? null : Breakers.claim(breakerRegistry, config.name());
        try {
            this.pool = Pool.of(new RpcConnector<>(codec, options), config);
        } catch (RuntimeException | Error e) {
            if (breakers != null) {
                breakers.close(); // frees the name again
            }
            throw e;
        }
        if (breakers != null) {
            Pool<RpcConnection> p = pool;
            pool.addListener(new PoolListener() {
                @Override
                public void endpointRemoved(Endpoint endpoint) {
                    breakers.endpointForgotten(endpoint, p.endpoints()::contains);
                }
            });
        }
        this.defaultTimeout = b.timeout;
        if (b.retryConfig != null) {
            this.retryRegistry = RetryRegistry.ofDefaults();
            // Resilience4j's retry, wrapped so that its metrics count the calls the engine ends
            // itself (at the deadline, on close, on an interrupt): the registry holds the wrapper.
            this.retry = new CallRetry(retryRegistry.retry(pool.name(), retryOnlyWhatIsSafe(b.retryConfig)));
            retryRegistry.replace(pool.name(), retry);
        } else {
            this.retryRegistry = null;
            this.retry = null;
        }
        this.engine = new CallEngine<>(pool, codec, breakers, retry, b.retryConfig == null ? null : b.retryConfig.getIntervalBiFunction());
    }

    /**
     * A builder for a client speaking {@code codec}.
     *
     * @param <Req>  the request type
     * @param <Resp> the response type
     * @param codec  the protocol; one codec serves every connection, so it must be thread-safe
     * @return a builder with the defaults listed on each setter
     */
    public static <Req, Resp> Builder<Req, Resp> builder(RpcCodec<Req, Resp> codec) {
        return new Builder<>(Objects.requireNonNull(codec, "codec"));
    }

    /**
     * {@link #call(Endpoint, Object, Duration)} with the {@linkplain Builder#timeout(Duration)
     * default timeout}.
     *
     * @param endpoint where to send the request
     * @param request  the request, encoded by the codec
     * @return the decoded response
     * @throws IOException an {@link RpcException} naming the endpoint, or an
     *         {@link java.io.InterruptedIOException} if the thread was interrupted
     */
    public Resp call(Endpoint endpoint, Req request) throws IOException {
        return call(endpoint, request, defaultTimeout);
    }

    /**
     * {@link #call(Endpoint, Object, Duration)} to {@code host:port}.
     *
     * @param host    the server's host name or address literal
     * @param port    the server's TCP port
     * @param request the request, encoded by the codec
     * @param timeout bounds the wait for a connection and for the complete response
     * @return the decoded response
     * @throws IOException an {@link RpcException} naming the endpoint, or an
     *         {@link java.io.InterruptedIOException} if the thread was interrupted
     */
    public Resp call(String host, int port, Req request, Duration timeout) throws IOException {
        return call(Endpoint.of(host, port), request, timeout);
    }

    /**
     * Sends {@code request} to {@code endpoint} and returns its response, the codec deciding
     * whether it is idempotent.
     *
     * @param endpoint where to send the request
     * @param request  the request, encoded by the codec
     * @param timeout bounds the wait for a connection and for the complete response (each read
     *                gets SO_TIMEOUT = the time left); connecting has its own timeout. One longer
     *                than a year is taken as a year
     * @return the decoded response
     * @throws RpcException            the call failed (the subclass says how; the message names the endpoint)
     * @throws java.io.InterruptedIOException the thread was interrupted (its interrupt status is kept)
     * @throws IOException             one of the above (the declared type of both)
     */
    public Resp call(Endpoint endpoint, Req request, Duration timeout) throws IOException {
        return call(endpoint, request, timeout, null);
    }

    /**
     * As {@link #call(Endpoint, Object, Duration)}, saying whether the request may be sent twice.
     * Only {@link Idempotency#IDEMPOTENT} calls are retried, and only after retry-safe failures.
     *
     * @param endpoint    where to send the request
     * @param request     the request, encoded by the codec
     * @param timeout     bounds the wait for a connection and for the complete response
     * @param idempotency whether the call may be retried; {@code null} lets the codec decide
     * @return the decoded response
     * @throws IOException an {@link RpcException} naming the endpoint, or an
     *         {@link java.io.InterruptedIOException} if the thread was interrupted
     * @throws IllegalArgumentException if {@code timeout} is zero or negative, or if the codec
     *         rejects the request (nothing is sent)
     */
    public Resp call(Endpoint endpoint, Req request, Duration timeout, Idempotency idempotency) throws IOException {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, but was " + timeout);
        }
        boolean idempotent = idempotency != null ? idempotency == Idempotency.IDEMPOTENT : codec.isIdempotent(request);
        return engine.call(endpoint, request, timeout, idempotent);
    }

    /**
     * The client's name.
     *
     * @return its pool's name, the {@code pool} tag of its meters
     */
    public String name() {
        return pool.name();
    }

    /**
     * The protocol this client speaks.
     *
     * @return the codec given to {@link #builder(RpcCodec)}
     */
    public RpcCodec<Req, Resp> codec() {
        return codec;
    }

    /**
     * The pool under the client, for its statistics, listeners and hints. Its connections are
     * the client's: lease nothing from it directly.
     *
     * @return the client's pool
     */
    public Pool<?> pool() {
        return pool;
    }

    /**
     * The registry holding the per-endpoint circuit breakers, for metrics or inspection.
     *
     * @return the registry, or empty if no circuit breaker is configured
     */
    public Optional<CircuitBreakerRegistry> circuitBreakerRegistry() {
        return Optional.ofNullable(breakerRegistry);
    }

    /**
     * The circuit breaker of {@code endpoint}, created if this is its first use (or the first
     * since the pool forgot the endpoint). After {@link #close()}, a new breaker kept nowhere.
     *
     * @param endpoint the endpoint whose breaker is wanted
     * @return the breaker, or empty if no circuit breaker is configured
     */
    public Optional<CircuitBreaker> circuitBreaker(Endpoint endpoint) {
        return breakers == null ? Optional.empty() : Optional.of(breakers.forEndpoint(endpoint));
    }

    /**
     * The retry of idempotent calls.
     *
     * @return the retry, or empty if retries are turned off ({@link Builder#noRetry()})
     */
    public Optional<Retry> retry() {
        return Optional.ofNullable(retry);
    }

    /**
     * The registry holding {@link #retry()}, for metrics.
     *
     * @return the registry, or empty if retries are turned off
     */
    public Optional<RetryRegistry> retryRegistry() {
        return Optional.ofNullable(retryRegistry);
    }

    /**
     * Closes the pool (see {@link Pool#close()}): calls holding a connection complete; calls
     * waiting for one or waiting between retry attempts, and new ones, fail at once. Idempotent.
     */
    @Override
    public void close() {
        engine.close();
        pool.close();
        if (breakers != null) {
            breakers.close();
        }
    }

    @Override
    public String toString() {
        return "RpcClient{name=" + pool.name() + ", codec=" + codec + ", retirement=" + pool.config().retirement() + "}";
    }

    /**
     * The default retry: 3 attempts, no wait (a retry takes a fresh connection; there is nothing
     * to wait for).
     *
     * @return a new retry configuration with those settings
     */
    public static RetryConfig defaultRetryConfig() {
        return RetryConfig.custom().maxAttempts(3).waitDuration(Duration.ZERO).build();
    }

    /**
     * The user's retry settings (attempts), retrying nothing but retry-safe failures. Its waits
     * are zero: the call engine waits the user's, so that {@link #close()} can cut them short.
     */
    private static RetryConfig retryOnlyWhatIsSafe(RetryConfig config) {
        return RetryConfig.<Object>custom()
                .maxAttempts(config.getMaxAttempts())
                .failAfterMaxAttempts(config.isFailAfterMaxAttempts())
                .writableStackTraceEnabled(config.isWritableStackTraceEnabled())
                .waitDuration(Duration.ZERO)
                .retryOnException(t -> t instanceof RpcException && ((RpcException) t).isRetrySafe())
                .retryOnResult(r -> false)
                .build();
    }

    /**
     * Builds an {@link RpcClient}. Not thread-safe; {@link #build()} validates every setting and
     * names the one that is wrong.
     */
    public static final class Builder<Req, Resp> {

        private final RpcCodec<Req, Resp> codec;
        private PoolConfig poolConfig = PoolConfig.builder().name("rpc").build();
        private Duration timeout = Duration.ofSeconds(10);
        private Duration connectTimeout = Duration.ofSeconds(5);
        private Duration drainTimeout = Duration.ofSeconds(30);
        private boolean drainTimeoutSet;
        private Retirement retirement;
        private boolean tcpNoDelay = true;
        private boolean keepAlive = true;
        private CircuitBreakerRegistry breakerRegistry;
        private RetryConfig retryConfig = defaultRetryConfig();

        private Builder(RpcCodec<Req, Resp> codec) {
            this.codec = codec;
        }

        /**
         * Limits, lifetimes, listeners and name of the pool (the name names the client and tags its
         * meters). Default: {@link PoolConfig#defaults()} named {@code "rpc"}. Its retirement is
         * replaced: see {@link #retirement(Retirement)}.
         *
         * @param poolConfig the pool's settings; not {@code null}
         * @return this builder
         */
        public Builder<Req, Resp> poolConfig(PoolConfig poolConfig) {
            this.poolConfig = Objects.requireNonNull(poolConfig, "poolConfig");
            return this;
        }

        /**
         * Timeout of calls made without one. Default 10 s. As with every call timeout, one longer
         * than a year is taken as a year.
         *
         * @param timeout a positive duration (checked by {@link #build()})
         * @return this builder
         */
        public Builder<Req, Resp> timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /**
         * Connect timeout for new connections. Default 5 s. A sub-millisecond value is rounded up
         * to 1 ms; one over {@code Integer.MAX_VALUE} ms (about 24.8 days, the most a socket
         * takes) is taken as that.
         *
         * @param connectTimeout a positive duration (checked by {@link #build()})
         * @return this builder
         */
        public Builder<Req, Resp> connectTimeout(Duration connectTimeout) {
            this.connectTimeout = connectTimeout;
            return this;
        }

        /**
         * How long a retiring connection waits for the peer's FIN before it is reset. Default 30 s.
         * Used by the retirement derived from the codec; not to be set together with
         * {@link #retirement(Retirement)}, which carries its own ({@link #build()} refuses both).
         *
         * @param drainTimeout a positive duration (checked by {@link #build()}); one longer than
         *                     the nanosecond clock holds (about 292 years) waits practically
         *                     forever, as core's {@link Retirement#awaitPeer(Duration)} takes it
         * @return this builder
         */
        public Builder<Req, Resp> drainTimeout(Duration drainTimeout) {
            this.drainTimeout = drainTimeout;
            this.drainTimeoutSet = true;
            return this;
        }

        /**
         * Overrides how connections retire. Default: {@code REQUEST_PEER_CLOSE} with the drain
         * timeout if the codec has a goodbye, else {@code AWAIT_PEER}. The policy's own drain
         * timeout applies: {@link #build()} refuses a {@link #drainTimeout(Duration)} set as well,
         * and {@code REQUEST_PEER_CLOSE} when the codec has no goodbye (it could not ask the peer to
         * close, and would silently await the peer).
         *
         * @param retirement the retirement policy; not {@code null}
         * @return this builder
         */
        public Builder<Req, Resp> retirement(Retirement retirement) {
            this.retirement = Objects.requireNonNull(retirement, "retirement");
            return this;
        }

        /**
         * TCP_NODELAY. Default on: small requests should not wait for Nagle.
         *
         * @param tcpNoDelay whether to disable Nagle's algorithm on new connections
         * @return this builder
         */
        public Builder<Req, Resp> tcpNoDelay(boolean tcpNoDelay) {
            this.tcpNoDelay = tcpNoDelay;
            return this;
        }

        /**
         * SO_KEEPALIVE. Default on.
         *
         * @param keepAlive whether new connections send TCP keep-alive probes when idle
         * @return this builder
         */
        public Builder<Req, Resp> keepAlive(boolean keepAlive) {
            this.keepAlive = keepAlive;
            return this;
        }

        /**
         * A circuit breaker per endpoint, each with {@code config}. Default: none.
         *
         * @param config the settings of every endpoint's breaker; not {@code null}
         * @return this builder
         * @throws NullPointerException {@code "circuitBreaker"}, if {@code config} is {@code null}
         */
        public Builder<Req, Resp> circuitBreaker(CircuitBreakerConfig config) {
            return circuitBreakerRegistry(CircuitBreakerRegistry.of(Objects.requireNonNull(config, "circuitBreaker")));
        }

        /**
         * A circuit breaker per endpoint, taken from {@code registry} (its default config).
         * Default: none. Clients may share a registry if their names differ: {@link #build()}
         * refuses a name an open client already uses in it, since breakers of the same name would
         * be shared, and one client's failures would open the other's circuits.
         *
         * @param registry where the breakers are created and kept; not {@code null}
         * @return this builder
         * @throws NullPointerException {@code "circuitBreakerRegistry"}, if {@code registry} is {@code null}
         */
        public Builder<Req, Resp> circuitBreakerRegistry(CircuitBreakerRegistry registry) {
            this.breakerRegistry = Objects.requireNonNull(registry, "circuitBreakerRegistry");
            return this;
        }

        /**
         * Retry settings for idempotent calls (attempts, wait). Whatever exceptions {@code config}
         * names, only {@linkplain RpcException#isRetrySafe() retry-safe} failures are retried.
         * Default {@link #defaultRetryConfig()}.
         *
         * @param config attempts and waits; not {@code null} (to turn retries off, {@link #noRetry()})
         * @return this builder
         * @throws NullPointerException {@code "retry"}, if {@code config} is {@code null}
         */
        public Builder<Req, Resp> retry(RetryConfig config) {
            this.retryConfig = Objects.requireNonNull(config, "retry");
            return this;
        }

        /**
         * Never retry: every failure reaches the caller at once.
         *
         * @return this builder
         */
        public Builder<Req, Resp> noRetry() {
            this.retryConfig = null;
            return this;
        }

        /**
         * Builds the client and its pool.
         *
         * @return a new client; close it to close its connections
         * @throws IllegalArgumentException naming the setting, if a timeout is not positive, the
         *         codec's {@link RpcCodec#maxFrameSize()} is below 1, the retirement is {@code REQUEST_PEER_CLOSE} but the codec has no
         *         goodbye, both {@code drainTimeout} and {@code retirement} were set, or the
         *         {@code circuitBreakerRegistry} holds the breakers of an open client of the same name
         */
        public RpcClient<Req, Resp> build() {
            positive("timeout", timeout);
            positive("connectTimeout", connectTimeout);
            positive("drainTimeout", drainTimeout);
            checkRetirement(retirement, drainTimeoutSet, drainTimeout, codec.goodbye().isPresent(), "the codec", "a codec");
            if (codec.maxFrameSize() < 1) {
                throw new IllegalArgumentException("codec maxFrameSize must be at least 1, but was " + codec.maxFrameSize());
            }
            return new RpcClient<>(this);
        }

        /**
         * An explicit retirement: it comes without a {@code drainTimeout} of the builder's (which it
         * would silently override), and it asks the peer to close only if there is a goodbye to do
         * it with.
         */
        static void checkRetirement(Retirement retirement, boolean drainTimeoutSet, Duration drainTimeout, boolean goodbye,
                                    String owner, String anOwner) {
            if (retirement == null) {
                return;
            }
            if (drainTimeoutSet) {
                throw new IllegalArgumentException("drainTimeout must not be set together with retirement, which carries its own ("
                        + retirement + "), but was " + drainTimeout);
            }
            if (!goodbye && retirement.policy() == Retirement.Policy.REQUEST_PEER_CLOSE) {
                throw new IllegalArgumentException("retirement must be AWAIT_PEER, RESET or LOCAL when " + owner
                        + " has no goodbye, but was " + retirement + " (" + anOwner + " with no goodbye cannot ask the peer to close)");
            }
        }

        static void positive(String setting, Duration value) {
            if (value == null || value.isNegative() || value.isZero()) {
                throw new IllegalArgumentException(setting + " must be positive, but was " + value);
            }
        }
    }
}
