package io.github.portkeeper.core;

import io.github.portkeeper.core.internal.PoolEngine;

import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * A pool of connections keyed by {@link Endpoint}: limits per endpoint and in total, leases with
 * a timeout served first come first served, idle connections reused most-recent-first (hot
 * connections stay hot, surplus ones sit idle until the server times them out), and connections
 * that leave by the configured {@link Retirement} so that the server, not this host, closes first.
 *
 * <pre>{@code
 * try (Pool<MyConn> pool = Pool.of(connector, PoolConfig.builder().maxPerEndpoint(4).build());
 *      Lease<MyConn> lease = pool.lease(Endpoint.of("db", 7000))) {
 *     lease.connection().call(...);
 * }
 * }</pre>
 *
 * <p>Thread-safe. One daemon thread per JVM, {@code portkeeper-watcher}, shared by every pool and
 * running only while there is something to watch, watches idle connections and does the
 * housekeeping. More daemon threads, also shared by every pool, run only while they have work
 * (each ends after a second without): {@code portkeeper-watcher-worker}, one, for listener events
 * and closes the watcher hands off; {@code portkeeper-watcher-kernel}, one, for reading the
 * kernel's socket table for the port budget and the kernel gauges; and
 * {@code portkeeper-watcher-lookup}, one per host name being looked up for those counts, at most
 * 64 at once. They run with Portkeeper's class loader as their context class loader.
 *
 * @param <C> the connection type
 */
public final class Pool<C> implements AutoCloseable {

    private final PoolEngine<C> engine;

    private Pool(PoolEngine<C> engine) {
        this.engine = engine;
    }

    /**
     * A pool that opens connections with {@code connector}. Nothing is opened until the first
     * lease.
     *
     * @param <C>       the connection type
     * @param connector opens, checks and closes the connections; called from several threads
     * @param config    limits, timeouts, retirement and listeners
     * @return a new, open pool; close it to close its connections
     */
    public static <C> Pool<C> of(Connector<C> connector, PoolConfig config) {
        Objects.requireNonNull(connector, "connector");
        Objects.requireNonNull(config, "config");
        return new Pool<>(new PoolEngine<>(connector, config));
    }

    /**
     * Leases a connection to {@code endpoint}, waiting at most the configured
     * {@linkplain PoolConfig#leaseTimeout() lease timeout}.
     *
     * @param endpoint where the connection goes
     * @return the lease; close it (try-with-resources) to give the connection back
     * @throws IOException a {@link PoolException} as for {@link #lease(Endpoint, Duration)}
     */
    public Lease<C> lease(Endpoint endpoint) throws IOException {
        return lease(endpoint, engine.config().leaseTimeout());
    }

    /**
     * Leases a connection to {@code endpoint}, waiting at most {@code timeout} for one to be
     * returned or for room to open one. Zero does not wait: the lease gets an idle connection or
     * opens one if there is room now, else fails at once. The wait does not include the connect.
     *
     * @param endpoint where the connection goes
     * @param timeout  how long to wait at most, zero or more; one longer than the pool's
     *                 nanosecond clock holds (about 292 years) waits practically forever
     * @return the lease; close it (try-with-resources) to give the connection back
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws LeaseTimeoutException   if none became available in time (also after a wait for
     *                                 the port budget, when the budget has room again by then but
     *                                 the pool's limits hold the lease back)
     * @throws PortBudgetExhaustedException if the lease waited for the port budget toward the
     *                                 endpoint and the budget was still spent when the timeout passed
     * @throws ConnectFailedException  if opening a new connection failed
     * @throws PoolClosedException     if the pool is or gets closed
     * @throws PoolException           with an {@link java.io.InterruptedIOException} as its cause
     *                                 if the thread was interrupted while waiting or connecting (its
     *                                 interrupt status is kept; an interrupted thread opens no new
     *                                 connection); or another lease failure, naming the endpoint
     */
    public Lease<C> lease(Endpoint endpoint, Duration timeout) throws IOException {
        Objects.requireNonNull(endpoint, "endpoint");
        return engine.lease(endpoint, leaseTimeout(timeout));
    }

    /**
     * Leases a connection to {@code endpoint} that is guaranteed new: opened for this lease, never
     * one that sat idle in the pool. For retrying a request after a pooled connection turned out
     * dead, where a second pooled one might be dead too. The same limits, port budget and waits
     * apply as for {@link #lease(Endpoint, Duration)}; if the endpoint is at its limit, one of its
     * idle connections is retired (by the retirement policy) to make room.
     *
     * @param endpoint where the connection goes
     * @param timeout  how long to wait at most for room to open it, zero or more, as for
     *                 {@link #lease(Endpoint, Duration)}
     * @return a lease whose {@link Lease#isReused()} is {@code false}
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws LeaseTimeoutException   if no room became available in time
     * @throws ConnectFailedException  if opening the connection failed
     * @throws PoolClosedException     if the pool is or gets closed
     * @throws IOException             if the thread was interrupted while waiting, or another
     *                                 lease failure as for {@link #lease(Endpoint, Duration)}
     */
    public Lease<C> leaseNew(Endpoint endpoint, Duration timeout) throws IOException {
        Objects.requireNonNull(endpoint, "endpoint");
        return engine.leaseNew(endpoint, leaseTimeout(timeout));
    }

    private static Duration leaseTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("lease timeout must not be negative, but was " + timeout);
        }
        return timeout;
    }

    /**
     * Tells the pool the idle timeout the server at {@code endpoint} announced (for example
     * HTTP's {@code Keep-Alive: timeout=N}). Connections idle longer than that minus the safety
     * margin are no longer leased; the server still does the closing.
     *
     * @param endpoint the server that announced it
     * @param timeout  the announced idle timeout, positive; one longer than the pool's
     *                 nanosecond clock holds (about 292 years) limits nothing, as if none was
     *                 announced
     * @throws IllegalArgumentException if {@code timeout} is {@code null}, zero or negative
     */
    public void hintIdleTimeout(Endpoint endpoint, Duration timeout) {
        Objects.requireNonNull(endpoint, "endpoint");
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("idle timeout hint must be positive, but was " + timeout);
        }
        engine.hintIdleTimeout(endpoint, timeout);
    }

    /**
     * The server idle timeout announced for or learned from {@code endpoint}.
     *
     * @param endpoint the server; not {@code null}
     * @return the timeout, or empty if none is known
     * @throws NullPointerException if {@code endpoint} is {@code null}
     */
    public Optional<Duration> serverIdleTimeout(Endpoint endpoint) {
        return engine.serverIdleTimeout(Objects.requireNonNull(endpoint, "endpoint"));
    }

    /**
     * A snapshot of the pool's connections and waiters. Each figure is read on its own, without
     * stopping the pool, so under load they need not add up exactly.
     *
     * @return the figures at about this moment
     */
    public PoolStats stats() {
        return engine.stats();
    }

    /**
     * Figures for one endpoint.
     *
     * @param endpoint the endpoint
     * @return its figures; all zero for an endpoint the pool has never served or has forgotten
     */
    public PoolStats.EndpointStats stats(Endpoint endpoint) {
        return engine.stats(Objects.requireNonNull(endpoint, "endpoint"));
    }

    /**
     * The endpoints the pool currently knows. An endpoint that has had no connection, no waiter
     * and no TIME_WAIT of the pool's (in the last 60 seconds) for {@code maxIdleTime}, and no
     * limit of its own ({@link #setMaxPerEndpoint(Endpoint, int)}, until {@link #clearMaxPerEndpoint}), is forgotten by housekeeping, so the pool's memory follows its live endpoints; a later lease
     * brings it back.
     *
     * @return a live, unmodifiable view
     */
    public java.util.Set<Endpoint> endpoints() {
        return engine.endpoints();
    }

    /**
     * Adds a listener after the pool was built (for example a metrics binding). It sees events
     * from then on.
     *
     * @param listener the listener; not {@code null}
     */
    public void addListener(PoolListener listener) {
        engine.addListener(Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Ephemeral ports tied up per endpoint against the {@link PortBudget}: what the Spring Boot
     * health indicator and the {@code portkeeper.ports.budget.used} gauge report.
     *
     * @return the figures at about this moment
     */
    public PortBudgetSnapshot portBudget() {
        return engine.portBudget();
    }

    /**
     * The total limit now.
     *
     * @return the most connections across all endpoints; initially {@link PoolConfig#maxTotal()}
     */
    public int maxTotal() {
        return engine.maxTotal();
    }

    /**
     * Changes the total limit at run time. A higher limit lets waiting leases open connections at
     * once; above a lower one no connection is opened, and the surplus leaves as connections
     * retire (the pool does not close connections to shrink).
     *
     * <p>Unlike {@link PoolConfig.Builder#build()}, the run-time setters do not require the
     * total to be at least the per-endpoint limits: HttpClient's {@code ConnPoolControl}, which
     * the http module implements with them, sets the two one at a time, in either order, and
     * allows a per-route limit above the total. Both limits always apply, so an endpoint whose
     * limit is above the total gets at most the total.
     *
     * @param max the new limit, at least 1 (it may be below the per-endpoint limits)
     * @throws IllegalArgumentException if {@code max} is below 1
     */
    public void setMaxTotal(int max) {
        engine.setMaxTotal(atLeastOne("maxTotal", max));
    }

    /**
     * The default per-endpoint limit now.
     *
     * @return the limit of endpoints without their own; initially {@link PoolConfig#maxPerEndpoint()}
     */
    public int maxPerEndpoint() {
        return engine.maxPerEndpoint();
    }

    /**
     * Changes the default per-endpoint limit at run time, as {@link #setMaxTotal(int)} does the
     * total one. Endpoints with their own limit keep it. It may be above the total limit; see
     * {@link #setMaxTotal(int)}.
     *
     * @param max the new limit, at least 1
     * @throws IllegalArgumentException if {@code max} is below 1
     */
    public void setMaxPerEndpoint(int max) {
        engine.setMaxPerEndpoint(atLeastOne("maxPerEndpoint", max));
    }

    /**
     * The limit of one endpoint: its own if set, else the default.
     *
     * @param endpoint the endpoint
     * @return its limit
     */
    public int maxPerEndpoint(Endpoint endpoint) {
        return engine.maxPerEndpoint(Objects.requireNonNull(endpoint, "endpoint"));
    }

    /**
     * Gives one endpoint its own limit at run time. It may be above the total limit; see
     * {@link #setMaxTotal(int)}.
     *
     * @param endpoint the endpoint
     * @param max      its limit, at least 1
     * @throws IllegalArgumentException if {@code max} is below 1, naming the endpoint:
     *         {@code "maxPerEndpoint for db:7000 must be at least 1, but was 0"}
     */
    public void setMaxPerEndpoint(Endpoint endpoint, int max) {
        Objects.requireNonNull(endpoint, "endpoint");
        engine.setMaxPerEndpoint(endpoint, atLeastOne("maxPerEndpoint for " + endpoint, max));
    }

    /**
     * Takes back one endpoint's own limit ({@link #setMaxPerEndpoint(Endpoint, int)}): it follows
     * the default limit again, including later changes to it. Nothing happens if it had no limit
     * of its own.
     *
     * @param endpoint the endpoint
     */
    public void clearMaxPerEndpoint(Endpoint endpoint) {
        engine.clearMaxPerEndpoint(Objects.requireNonNull(endpoint, "endpoint"));
    }

    /**
     * Retires the idle connections {@code which} selects, by the pool's {@link Retirement} (by
     * default the server closes them: no TIME_WAIT here). The predicate gets each idle
     * connection and how long it has been idle; it must not block or use the connection.
     *
     * @param which selects the connections to retire
     * @return how many were retired
     */
    public int retireIdle(java.util.function.BiPredicate<? super C, Duration> which) {
        return engine.retireIdle(Objects.requireNonNull(which, "which"));
    }

    private static int atLeastOne(String setting, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(setting + " must be at least 1, but was " + value);
        }
        return value;
    }

    /**
     * The pool's configuration, as built (run-time limit changes are not reflected in it).
     *
     * @return the configuration the pool was created with
     */
    public PoolConfig config() {
        return engine.config();
    }

    /**
     * The pool's name, as in its configuration.
     *
     * @return the name, the {@code pool} tag of its meters
     */
    public String name() {
        return engine.config().name();
    }

    /**
     * Whether {@link #close()} has been called.
     *
     * @return {@code true} once closing has begun
     */
    public boolean isClosed() {
        return engine.isClosed();
    }

    /**
     * Closes the pool: new leases are rejected, waiting leases fail with
     * {@link PoolClosedException}, idle and draining connections are closed (by the retirement
     * fallback, without waiting for the peer), and connections still leased are closed when they
     * are given back; a connection whose goodbye is being said ({@code REQUEST_PEER_CLOSE}) is
     * closed by the thread saying it, once said. Returns once that is done, also when another
     * thread's close is under way (it waits for that one), except when called from a listener
     * the pool is calling (that close returns at once: the first close may be waiting for the
     * pool's work the listener runs in). Idempotent.
     */
    @Override
    public void close() {
        engine.close();
    }

    /** The engine, for the other Portkeeper modules. Not part of the public API. */
    PoolEngine<C> engine() {
        return engine;
    }
}
