package io.github.portkeeper.rpc;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.internal.Nanos;
import io.github.portkeeper.rpc.internal.ClientConnection;
import io.github.portkeeper.rpc.internal.SocketClientConnector;
import io.github.portkeeper.rpc.internal.SocketOptions;

import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * Pools a blocking client you already have, built around a {@link Socket} (a legacy in-house
 * client, a Thrift-style transport): you say how to wrap a socket and how to say goodbye; the pool
 * reuses the connections, watches idle ones, and lets the server close first.
 *
 * <pre>{@code
 * SocketClientPool<LegacyClient> clients = SocketClientPool.builder(LegacyClient::new)
 *         .goodbye(LegacyClient::sendQuit)
 *         .build();
 * try (PooledClient<LegacyClient> c = clients.borrow("inventory", 4000)) {
 *     c.get().lookup(sku);
 * }
 * }</pre>
 *
 * <p>The client is built once per connection and kept with it: every borrow of that connection
 * gets the same instance. The socket it is given is a view of the pooled connection:
 * <ul>
 *   <li>an I/O error, or the peer's end of stream before any byte of a reply, on its streams
 *       marks the connection damaged, and it is discarded when given back; so does closing the
 *       socket (or its streams) from the client, which makes the pool reset it;</li>
 *   <li>the peer's end of stream after bytes of a reply (a server that closes after answering)
 *       ends the connection's reuse but is no failure: given back, it is closed at once,
 *       passively, even if the client closed its socket;</li>
 *   <li>SO_LINGER and half-closes are refused: how connections close is the pool's decision;</li>
 *   <li>each exchange must leave the stream in step: read exactly the response asked for. Bytes
 *       that arrive on an idle connection are detected and the connection is retired.</li>
 * </ul>
 *
 * <p>Retirement is {@code REQUEST_PEER_CLOSE} when a goodbye is given (the goodbye runs on the
 * idle connection, on the thread that retires it, often one returning or borrowing a client,
 * never the idle watcher's: it should only write), else {@code AWAIT_PEER}.
 *
 * <p>Thread-safe; each {@link PooledClient} is for one thread at a time.
 *
 * @param <T> the client type
 */
public final class SocketClientPool<T> implements AutoCloseable {

    /**
     * Builds a client around a connected socket (once per connection).
     *
     * @param <T> the client type
     */
    @FunctionalInterface
    public interface ClientFactory<T> {
        /**
         * Wraps a freshly connected socket. Called on the thread that borrows, while it connects.
         * Each of its reads (a greeting, a handshake) waits at most the pool's read timeout, or,
         * when there is none, the connect timeout, so a server that accepts and never writes fails
         * the borrow instead of holding it for good. The bound is per read, not for the handshake
         * in total.
         *
         * @param socket a connected view of the pooled connection (see the class comment for what
         *               it refuses); keep it for the client's lifetime, do not close it
         * @return the client that every borrow of this connection gets
         * @throws IOException if the client cannot be set up (a handshake failed); the connection
         *         is closed and the borrow fails
         */
        T wrap(Socket socket) throws IOException;
    }

    /**
     * Asks the peer, through the client, to close the connection (for example by sending
     * {@code QUIT}).
     *
     * @param <T> the client type
     */
    @FunctionalInterface
    public interface Goodbye<T> {
        /**
         * Writes the goodbye on an idle, retiring connection. Runs on the thread that retires it
         * (never the idle watcher's), under the goodbye timeout: it should only write, not wait
         * for a reply.
         *
         * @param client the connection's client
         * @throws IOException if the write fails; the connection is then closed at once, by the
         *         retirement's fallback ending
         */
        void sayGoodbye(T client) throws IOException;
    }

    private final Pool<ClientConnection<T>> pool;

    private SocketClientPool(Builder<T> b) {
        SocketOptions options = new SocketOptions(Nanos.socketMillis(b.connectTimeout), Nanos.socketMillis(b.readTimeout),
                b.tcpNoDelay, b.keepAlive);
        SocketClientConnector.Goodbye<T> goodbye = b.goodbye == null ? null : b.goodbye::sayGoodbye;
        SocketClientConnector<T> connector = new SocketClientConnector<>(b.factory::wrap, goodbye, b.isUsable, options,
                Nanos.socketMillis(b.goodbyeTimeout));
        Retirement retirement = b.retirement != null ? b.retirement
                : b.goodbye != null ? Retirement.requestPeerClose(b.drainTimeout) : Retirement.awaitPeer(b.drainTimeout);
        this.pool = Pool.of(connector, b.poolConfig.toBuilder().retirement(retirement).build());
    }

    /**
     * A builder for a pool of clients made by {@code factory}.
     *
     * @param <T>     the client type
     * @param factory wraps each new connection's socket in a client; not {@code null}
     * @return a builder with the defaults listed on each setter
     */
    public static <T> Builder<T> builder(ClientFactory<T> factory) {
        return new Builder<>(Objects.requireNonNull(factory, "factory"));
    }

    /**
     * Borrows a client connected to {@code host:port}, reused if one is idle.
     *
     * @param host the server's host name or address literal
     * @param port the server's TCP port
     * @return the borrowed client; close it (try-with-resources) to give it back
     * @throws IOException a {@link io.github.portkeeper.core.PoolException} naming the endpoint,
     *         if none could be had (connect failed, lease timeout, pool closed)
     */
    public PooledClient<T> borrow(String host, int port) throws IOException {
        return borrow(Endpoint.of(host, port));
    }

    /**
     * Borrows a client connected to {@code endpoint}, reused if one is idle, waiting at most the
     * pool's lease timeout for a free connection or room to open one. Opening one waits at most
     * the connect timeout to connect; then each read of the client factory's handshake waits at
     * most the connect timeout (the read timeout instead, if one is set; see
     * {@link Builder#readTimeout(Duration)}). That bounds each read, not the handshake in total: a
     * server that sends its greeting a byte at a time, each within the bound, keeps the borrow
     * waiting for as long as it keeps doing so.
     *
     * @param endpoint the server to connect to
     * @return the borrowed client; close it (try-with-resources) to give it back
     * @throws io.github.portkeeper.core.PoolException naming the endpoint, if none could be had
     *         (connect failed, lease timeout, pool closed)
     * @throws IOException the declared type of the above; a failure of the client factory comes
     *         as a {@link io.github.portkeeper.core.ConnectFailedException} with it as the cause
     */
    public PooledClient<T> borrow(Endpoint endpoint) throws IOException {
        Lease<ClientConnection<T>> lease = pool.lease(endpoint);
        return new PooledClient<>(lease);
    }

    /**
     * The pool under the clients, for statistics, listeners and hints.
     *
     * @return the pool holding the clients' connections
     */
    public Pool<?> pool() {
        return pool;
    }

    /** Closes the pool (see {@link Pool#close()}). Idempotent. */
    @Override
    public void close() {
        pool.close();
    }

    /** Builds a {@link SocketClientPool}. Not thread-safe. */
    public static final class Builder<T> {

        private final ClientFactory<T> factory;
        private Goodbye<T> goodbye;
        private Predicate<T> isUsable;
        private PoolConfig poolConfig = PoolConfig.builder().name("clients").build();
        private Duration connectTimeout = Duration.ofSeconds(5);
        private Duration readTimeout = Duration.ZERO;
        private Duration drainTimeout = Duration.ofSeconds(30);
        private boolean drainTimeoutSet;
        private Duration goodbyeTimeout = Duration.ofSeconds(1);
        private boolean goodbyeTimeoutSet;
        private Retirement retirement;
        private boolean tcpNoDelay = true;
        private boolean keepAlive = true;

        private Builder(ClientFactory<T> factory) {
            this.factory = factory;
        }

        /**
         * How to ask the peer to close a retiring connection. Default: none (await the peer's own
         * close).
         *
         * @param goodbye writes the protocol's goodbye; not {@code null}
         * @return this builder
         */
        public Builder<T> goodbye(Goodbye<T> goodbye) {
            this.goodbye = Objects.requireNonNull(goodbye, "goodbye");
            return this;
        }

        /**
         * Checked before an idle client is lent again (keep it cheap); {@code false} retires it
         * by the retirement policy (with a goodbye: the goodbye is sent and the server closes
         * first; reason {@code VALIDATION_FAILED}) and another idle client is tried, or a new
         * connection opened. A check that throws fails the borrow, and that connection is
         * closed at once. Default: all usable.
         *
         * @param isUsable the check; not {@code null}
         * @return this builder
         */
        public Builder<T> isUsable(Predicate<T> isUsable) {
            this.isUsable = Objects.requireNonNull(isUsable, "isUsable");
            return this;
        }

        /**
         * Limits, lifetimes, listeners and name of the pool. Default: {@link PoolConfig#defaults()}
         * named {@code "clients"}. Its retirement is replaced (see {@link #retirement}).
         *
         * @param poolConfig the pool's settings; not {@code null}
         * @return this builder
         */
        public Builder<T> poolConfig(PoolConfig poolConfig) {
            this.poolConfig = Objects.requireNonNull(poolConfig, "poolConfig");
            return this;
        }

        /**
         * Connect timeout. Default 5 s. A sub-millisecond value is rounded up to 1 ms; one over
         * {@code Integer.MAX_VALUE} ms (about 24.8 days, the most a socket takes) is taken as that.
         *
         * @param connectTimeout a positive duration (checked by {@link #build()})
         * @return this builder
         */
        public Builder<T> connectTimeout(Duration connectTimeout) {
            this.connectTimeout = connectTimeout;
            return this;
        }

        /**
         * SO_TIMEOUT while a client is borrowed; restored when it is given back. Default zero
         * (none). It is set before the client factory runs: if the factory sets an SO_TIMEOUT of
         * its own, as legacy clients often do in their constructor, that one is kept instead, and
         * restored on every give-back. With none, the factory runs under SO_TIMEOUT = the
         * {@linkplain #connectTimeout(Duration) connect timeout}, so that no read of its
         * handshake can wait for good (each read waits at most that long); borrows then have none again (a factory that sets exactly the connect
         * timeout as its own is taken to have set none). A sub-millisecond value is rounded up to 1 ms (never to 0, which would mean no
         * timeout at all); one over {@code Integer.MAX_VALUE} ms (about 24.8 days) is taken as that.
         *
         * @param readTimeout zero for none, else positive (checked by {@link #build()})
         * @return this builder
         */
        public Builder<T> readTimeout(Duration readTimeout) {
            this.readTimeout = readTimeout;
            return this;
        }

        /**
         * How long a retiring connection waits for the peer's FIN before it is reset. Default 30 s.
         * Used by the retirement derived from the goodbye; not to be set together with
         * {@link #retirement(Retirement)}, which carries its own ({@link #build()} refuses both).
         *
         * @param drainTimeout a positive duration (checked by {@link #build()}); one longer than
         *                     the nanosecond clock holds (about 292 years) waits practically
         *                     forever, as core's {@link Retirement#awaitPeer(Duration)} takes it
         * @return this builder
         */
        public Builder<T> drainTimeout(Duration drainTimeout) {
            this.drainTimeout = drainTimeout;
            this.drainTimeoutSet = true;
            return this;
        }

        /**
         * SO_TIMEOUT while the goodbye runs, in case it waits for a reply. Default 1 s. Rounded
         * as {@link #connectTimeout}. Only with a {@link #goodbye goodbye}: {@link #build()}
         * refuses it without one, where it would bound nothing.
         *
         * @param goodbyeTimeout a positive duration (checked by {@link #build()})
         * @return this builder
         */
        public Builder<T> goodbyeTimeout(Duration goodbyeTimeout) {
            this.goodbyeTimeout = goodbyeTimeout;
            this.goodbyeTimeoutSet = true;
            return this;
        }

        /**
         * Overrides how connections retire. Default: {@code REQUEST_PEER_CLOSE} with a goodbye,
         * else {@code AWAIT_PEER}, with the {@link #drainTimeout(Duration) drain timeout}. The
         * policy's own drain timeout applies: {@link #build()} refuses a {@code drainTimeout} set
         * as well, and {@code REQUEST_PEER_CLOSE} without a {@link #goodbye goodbye} (the pool could
         * not ask the peer to close, and would silently await the peer).
         *
         * @param retirement the retirement policy; not {@code null}
         * @return this builder
         */
        public Builder<T> retirement(Retirement retirement) {
            this.retirement = Objects.requireNonNull(retirement, "retirement");
            return this;
        }

        /**
         * TCP_NODELAY. Default on.
         *
         * @param tcpNoDelay whether to disable Nagle's algorithm on new connections
         * @return this builder
         */
        public Builder<T> tcpNoDelay(boolean tcpNoDelay) {
            this.tcpNoDelay = tcpNoDelay;
            return this;
        }

        /**
         * SO_KEEPALIVE. Default on.
         *
         * @param keepAlive whether new connections send TCP keep-alive probes when idle
         * @return this builder
         */
        public Builder<T> keepAlive(boolean keepAlive) {
            this.keepAlive = keepAlive;
            return this;
        }

        /**
         * Builds the pool. No connection is opened until the first borrow.
         *
         * @return a new pool; close it to close its connections
         * @throws IllegalArgumentException naming the setting, if a timeout is out of range, the
         *         retirement is
         *         {@code REQUEST_PEER_CLOSE} without a goodbye, both {@code drainTimeout} and
         *         {@code retirement} were set, or {@code goodbyeTimeout} was set without a goodbye
         */
        public SocketClientPool<T> build() {
            RpcClient.Builder.positive("connectTimeout", connectTimeout);
            RpcClient.Builder.positive("drainTimeout", drainTimeout);
            RpcClient.Builder.positive("goodbyeTimeout", goodbyeTimeout);
            if (goodbyeTimeoutSet && goodbye == null) {
                throw new IllegalArgumentException("goodbyeTimeout must not be set without a goodbye, but was " + goodbyeTimeout);
            }
            if (readTimeout == null || readTimeout.isNegative()) {
                throw new IllegalArgumentException("readTimeout must not be negative, but was " + readTimeout);
            }
            RpcClient.Builder.checkRetirement(retirement, drainTimeoutSet, drainTimeout, goodbye != null, "the pool", "a pool");
            return new SocketClientPool<>(this);
        }
    }
}
