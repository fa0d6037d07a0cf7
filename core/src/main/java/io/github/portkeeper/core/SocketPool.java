package io.github.portkeeper.core;

import io.github.portkeeper.core.internal.Nanos;
import io.github.portkeeper.core.internal.PooledSocket;
import io.github.portkeeper.core.internal.SocketChannelConnector;

import java.io.IOException;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Objects;

/**
 * Pooled TCP sockets, a drop-in for a socket per request. Code that today does
 * <pre>{@code try (Socket s = new Socket(host, port)) { ... } }</pre>
 * switches to
 * <pre>{@code try (Socket s = pool.socket(host, port)) { ... } }</pre>
 * Closing the socket (or either of its streams) gives the connection back for the next caller;
 * an I/O error, or reading the peer's end of stream, marks it broken so it is never reused.
 *
 * <p>Each exchange must leave the stream in step: read exactly the response it asked for (a
 * buffered reader that reads ahead would steal the next caller's bytes). Unrequested bytes that
 * arrive while a socket is idle are detected and the connection is retired.
 *
 * <p>Thread-safe; each {@link Socket} it returns is for one thread at a time, like a plain socket.
 */
public final class SocketPool implements AutoCloseable {

    /** The longest connect or read timeout a socket takes: {@code Integer.MAX_VALUE} ms (about 24.8 days). */

    private final Pool<SocketChannel> pool;
    private final int readTimeoutMillis;

    private SocketPool(Builder b) {
        SocketChannelConnector connector = new SocketChannelConnector(
                Nanos.socketMillis(b.connectTimeout), Nanos.socketMillis(b.readTimeout), b.tcpNoDelay, b.keepAlive);
        this.pool = Pool.of(connector, b.poolConfig);
        this.readTimeoutMillis = connector.readTimeoutMillis();
    }

    /**
     * A socket pool with the default settings (see the {@link Builder}'s setters).
     *
     * @return a new pool; close it to close its connections
     */
    public static SocketPool create() {
        return builder().build();
    }

    /**
     * A builder with the defaults documented on each setter.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A connected socket to {@code host:port}, reused if one is idle.
     *
     * @param host the server's host name or address literal
     * @param port the server's TCP port
     * @return a socket; closing it gives the connection back to the pool
     * @throws IOException a {@link PoolException} naming the endpoint (connect failed, lease
     *         timeout, pool closed; an interrupt while waiting is its cause, an
     *         {@link java.io.InterruptedIOException})
     * @throws IllegalArgumentException if the host or the port is not valid, as for
     *         {@link Endpoint#of(String, int)}
     */
    public Socket socket(String host, int port) throws IOException {
        return socket(Endpoint.of(host, port));
    }

    /**
     * A connected socket to {@code endpoint}, reused if one is idle, waiting at most the pool's
     * lease timeout.
     *
     * @param endpoint the server
     * @return a socket; closing it gives the connection back to the pool
     * @throws IOException a {@link PoolException} naming the endpoint (connect failed, lease
     *         timeout, pool closed; an interrupt while waiting is its cause, an
     *         {@link java.io.InterruptedIOException})
     */
    public Socket socket(Endpoint endpoint) throws IOException {
        Lease<SocketChannel> lease = pool.lease(endpoint);
        try {
            return new PooledSocket(lease, readTimeoutMillis);
        } catch (IOException | RuntimeException e) {
            lease.markBroken();
            lease.close();
            throw e;
        }
    }

    /**
     * The underlying pool, for its statistics, listeners and hints.
     *
     * @return the pool of the sockets' channels
     */
    public Pool<SocketChannel> pool() {
        return pool;
    }

    /** See {@link Pool#close()}. */
    @Override
    public void close() {
        pool.close();
    }

    /** Builds a {@link SocketPool}. Not thread-safe. */
    public static final class Builder {

        private PoolConfig poolConfig = PoolConfig.defaults();
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration readTimeout = Duration.ZERO;
        private boolean tcpNoDelay = true;
        private boolean keepAlive = true;

        private Builder() {
        }

        /**
         * Limits, timeouts and policies of the pool. Default {@link PoolConfig#defaults()}.
         *
         * @param poolConfig the pool's settings; not {@code null}
         * @return this builder
         */
        public Builder poolConfig(PoolConfig poolConfig) {
            this.poolConfig = Objects.requireNonNull(poolConfig, "poolConfig");
            return this;
        }

        /**
         * Connect timeout for new sockets. Default 10 s. A sub-millisecond value is rounded up to
         * 1 ms; one above {@code Integer.MAX_VALUE} ms (about 24.8 days) is capped at that.
         *
         * @param connectTimeout a positive duration (checked by {@link #build()})
         * @return this builder
         */
        public Builder connectTimeout(Duration connectTimeout) {
            this.connectTimeout = connectTimeout;
            return this;
        }

        /**
         * SO_TIMEOUT for reads; zero (default) waits forever. Restored when a socket is given back.
         * A sub-millisecond value is rounded up to 1 ms; one above {@code Integer.MAX_VALUE} ms
         * (about 24.8 days, the most {@code SO_TIMEOUT} holds) is capped at that.
         *
         * @param readTimeout zero or a positive duration (checked by {@link #build()})
         * @return this builder
         */
        public Builder readTimeout(Duration readTimeout) {
            this.readTimeout = readTimeout;
            return this;
        }

        /**
         * TCP_NODELAY. Default on: pooled request/response traffic should not wait for Nagle.
         *
         * @param tcpNoDelay whether to disable Nagle's algorithm on new sockets
         * @return this builder
         */
        public Builder tcpNoDelay(boolean tcpNoDelay) {
            this.tcpNoDelay = tcpNoDelay;
            return this;
        }

        /**
         * SO_KEEPALIVE. Default on, so a vanished peer is eventually noticed.
         *
         * @param keepAlive whether new sockets send TCP keep-alive probes when idle
         * @return this builder
         */
        public Builder keepAlive(boolean keepAlive) {
            this.keepAlive = keepAlive;
            return this;
        }

        /**
         * Builds the pool. No connection is opened until the first {@code socket(...)} call.
         *
         * @return a new pool; close it to close its connections
         * @throws IllegalArgumentException naming the setting, if a timeout is out of range
         */
        public SocketPool build() {
            if (connectTimeout == null || connectTimeout.isNegative() || connectTimeout.isZero()) {
                throw new IllegalArgumentException("connectTimeout must be positive, but was " + connectTimeout);
            }
            if (readTimeout == null || readTimeout.isNegative()) {
                throw new IllegalArgumentException("readTimeout must not be negative, but was " + readTimeout);
            }
            return new SocketPool(this);
        }
    }
}
