package io.github.portkeeper.core;

import io.github.portkeeper.core.internal.Nanos;
import io.github.portkeeper.core.internal.OwnedSockets;

import javax.net.SocketFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A {@link SocketFactory} whose sockets close the Portkeeper way: for clients that keep their own
 * pools (OkHttp, Jedis, JDBC drivers, Thrift) and accept a socket factory. Their pools still
 * decide <em>when</em> a connection closes; this factory decides <em>how</em>.
 *
 * <pre>{@code
 * CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("catalog").build();
 * OkHttpClient client = new OkHttpClient.Builder().socketFactory(sockets).build();
 * }</pre>
 *
 * <p>Its sockets behave as plain sockets while in use. Their {@code close()} applies the
 * {@link Retirement} policy instead of sending a FIN:
 * <ul>
 *   <li>{@link Retirement.Policy#AWAIT_PEER} (the default, with a {@link Ending#RESET} fallback):
 *       if the peer's FIN already arrived the close is passive ({@link Ending#PEER}); otherwise
 *       the socket stays open, hidden from its client, until the peer's FIN arrives, or the
 *       drain timeout passes and the fallback closes it. Bytes that arrive meanwhile are
 *       discarded and counted ({@link #discardedBytes()}). At most {@code maxDraining} sockets
 *       drain at once; a close beyond that takes the fallback at once
 *       ({@link #drainOverflows()}).</li>
 *   <li>{@link Retirement.Policy#RESET} and {@link Retirement.Policy#LOCAL}: RST or FIN at once
 *       (still {@code PEER} where the peer's FIN came first).</li>
 * </ul>
 * Closed mid-exchange: a socket closed while another thread is blocked reading or writing it (a
 * cancel or a timeout) is reset at once, which is what wakes that thread; a socket closed with
 * an unread response drains it (discarded, counted) and is reset once more than 64 KiB arrive.
 *
 * <p>A socket its client leaves idle (no call in progress) for the idle watch delay is watched
 * by the JVM's one idle watcher (shared with every pool): if the peer closes it, the close is answered at once (no
 * CLOSE_WAIT) and the client's next use sees end of stream and {@link Socket#isClosed()} true.
 * Bytes the peer sends to an idle socket are kept for the client's next read. TLS layered on top
 * ({@code SSLSocketFactory.createSocket(socket, host, port, true)}) works: the watcher never
 * decrypts, it only holds ciphertext for the TLS socket. A TLS close is not an exchange: what
 * the TLS socket reads after its close_notify (the server's close_notify, a bare FIN, a timeout)
 * does not mark the socket broken. A TLS connection that fails does: a handshake the client
 * refuses (an untrusted certificate), one answered with no TLS at all (a plain HTTP server), one
 * the server cuts short, a fatal alert later. The TLS socket then closes the socket under it
 * without a close_notify, and it is counted as broken, though the ciphertext went both ways.
 *
 * <p>Every ending is reported to the {@link PoolListener}s, as a pool reports its connections',
 * so {@code PoolMetrics.of(factory)} gives the same meters with {@code pool=<name>}.
 * {@code SO_LINGER}, {@code shutdownOutput()} and {@code shutdownInput()} called by a client are
 * recorded but not passed to the kernel: the retirement policy owns how the socket closes (a
 * TLS socket layered on top shuts output right after its close_notify, which would otherwise
 * be a FIN sent first). After {@code shutdownOutput()} writes fail; after
 * {@code shutdownInput()} reads return end of stream.
 *
 * <p>Thread-safe; each socket it returns is, like a plain socket, for one thread at a time
 * (plus a closing thread).
 */
public final class CloseOwningSocketFactory extends SocketFactory {

    private final OwnedSockets sockets;

    private CloseOwningSocketFactory(Builder b) {
        this.sockets = new OwnedSockets(b.name, b.retirement, b.maxDraining, Nanos.saturated(b.idleWatchDelay), b.listeners);
    }

    /**
     * A factory with the default settings (name {@code "sockets"}, {@code AWAIT_PEER} for 30 s
     * then RESET).
     *
     * @return a new factory
     */
    public static CloseOwningSocketFactory create() {
        return builder().build();
    }

    /**
     * A builder.
     *
     * @return a builder with the default settings
     */
    public static Builder builder() {
        return new Builder();
    }

    /** An unconnected socket; connect it with {@link Socket#connect(java.net.SocketAddress, int)}. */
    @Override
    public Socket createSocket() throws IOException {
        return sockets.newSocket();
    }

    /** A socket connected to {@code host:port}. */
    @Override
    public Socket createSocket(String host, int port) throws IOException {
        return connected(new InetSocketAddress(host, port), null);
    }

    /** A socket bound to {@code localHost:localPort} and connected to {@code host:port}. */
    @Override
    public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
        return connected(new InetSocketAddress(host, port), new InetSocketAddress(localHost, localPort));
    }

    /** A socket connected to {@code host:port}. */
    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
        return connected(new InetSocketAddress(host, port), null);
    }

    /** A socket bound to {@code localAddress:localPort} and connected to {@code address:port}. */
    @Override
    public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort) throws IOException {
        return connected(new InetSocketAddress(address, port), new InetSocketAddress(localAddress, localPort));
    }

    private Socket connected(InetSocketAddress remote, InetSocketAddress local) throws IOException {
        Socket s = sockets.newSocket();
        try {
            if (local != null) {
                s.bind(local);
            }
            s.connect(remote);
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /**
     * Adds a listener (for example a metrics binding); it sees events from then on.
     *
     * @param listener the listener
     */
    public void addListener(PoolListener listener) {
        sockets.addListener(Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Reports that the client's own pool served a request on a new or a reused connection to
     * {@code endpoint}, for the {@code portkeeper.leases} meter. Client integrations call it
     * (the OkHttp module's event listener does); the factory cannot see reuse itself.
     *
     * @param endpoint where the connection goes
     * @param reused   whether the client's pool reused an idle connection
     */
    public void recordLease(Endpoint endpoint, boolean reused) {
        sockets.leased(Objects.requireNonNull(endpoint, "endpoint"), reused);
    }

    /**
     * The factory's name.
     *
     * @return the name, the {@code pool} tag of its meters
     */
    public String name() {
        return sockets.name();
    }

    /**
     * How sockets the client closes leave.
     *
     * @return the retirement policy
     */
    public Retirement retirement() {
        return sockets.retirement();
    }

    /**
     * Sockets allowed to drain (await the peer's FIN) at once; a close beyond it takes the
     * fallback at once.
     *
     * @return the limit
     */
    public int maxDraining() {
        return sockets.maxDraining();
    }

    /**
     * A snapshot: {@code active} open sockets in use, {@code idle} ones the watcher is watching
     * for their client, {@code draining} closed ones awaiting the peer's FIN; no endpoints and
     * no pending leases (the client's pool has those).
     *
     * @return the figures at about this moment
     */
    public PoolStats stats() {
        return sockets.stats();
    }

    /**
     * Endpoints connected to so far.
     *
     * @return a live, unmodifiable view
     */
    public Set<Endpoint> endpoints() {
        return sockets.endpoints();
    }

    /**
     * Closes that found {@code maxDraining} sockets draining and took the fallback at once.
     *
     * @return the count since the factory was built
     */
    public long drainOverflows() {
        return sockets.drainOverflows();
    }

    /**
     * Bytes discarded from closed sockets: unread at close or arrived while draining.
     *
     * @return the count since the factory was built
     */
    public long discardedBytes() {
        return sockets.discardedBytes();
    }

    @Override
    public String toString() {
        return "CloseOwningSocketFactory[" + name() + ", " + retirement() + "]";
    }

    /** Builds a {@link CloseOwningSocketFactory}. Not thread-safe. */
    public static final class Builder {

        private String name = "sockets";
        private Retirement retirement = Retirement.defaults();
        private int maxDraining = 1024;
        private Duration idleWatchDelay = Duration.ofMillis(100);
        private final List<PoolListener> listeners = new ArrayList<>();

        private Builder() {
        }

        /**
         * The name, used as the {@code pool} tag of the meters. Default {@code "sockets"}.
         *
         * @param name a non-blank name (checked by {@link #build()})
         * @return this builder
         */
        public Builder name(String name) {
            this.name = name;
            return this;
        }

        /**
         * How closed sockets leave: {@code AWAIT_PEER} (default, 30 s then RESET), {@code RESET}
         * or {@code LOCAL}. {@code REQUEST_PEER_CLOSE} is refused: a socket factory knows no
         * protocol goodbye.
         *
         * @param retirement the policy; not {@code null}, not {@code REQUEST_PEER_CLOSE} (checked
         *                   by {@link #build()})
         * @return this builder
         */
        public Builder retirement(Retirement retirement) {
            this.retirement = retirement;
            return this;
        }

        /**
         * Sockets allowed to drain at once (default 1024); closes beyond it take the fallback at
         * once, so a client can never run the process out of descriptors through draining.
         *
         * @param maxDraining at least 0 (checked by {@link #build()})
         * @return this builder
         */
        public Builder maxDraining(int maxDraining) {
            this.maxDraining = maxDraining;
            return this;
        }

        /**
         * How long a socket must sit idle in its client's hands before the watcher watches it
         * for the peer's FIN (default 100 ms). A peer's close of an idle socket is answered
         * within about this delay plus the watcher's 20 ms tick.
         *
         * @param idleWatchDelay a positive duration, at most {@code PT2562047H47M16.854775807S}
         *                       (the nanosecond clock's range, about 292 years; checked by
         *                       {@link #build()})
         * @return this builder
         */
        public Builder idleWatchDelay(Duration idleWatchDelay) {
            this.idleWatchDelay = idleWatchDelay;
            return this;
        }

        /**
         * Adds a listener.
         *
         * @param listener the listener; not {@code null}
         * @return this builder
         */
        public Builder listener(PoolListener listener) {
            listeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /**
         * Validates the settings and builds the factory.
         *
         * @return the factory
         * @throws IllegalArgumentException naming the setting, the rule and the value, if a
         *         setting is out of range
         * @throws NullPointerException if the retirement is {@code null}
         */
        public CloseOwningSocketFactory build() {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("name must not be blank, but was " + (name == null ? "null" : "'" + name + "'"));
            }
            Objects.requireNonNull(retirement, "retirement");
            if (retirement.policy() == Retirement.Policy.REQUEST_PEER_CLOSE) {
                throw new IllegalArgumentException("retirement must be AWAIT_PEER, RESET or LOCAL, but was " + retirement
                        + " (a socket factory knows no protocol goodbye)");
            }
            if (maxDraining < 0) {
                throw new IllegalArgumentException("maxDraining must be at least 0, but was " + maxDraining);
            }
            if (idleWatchDelay == null || idleWatchDelay.isNegative() || idleWatchDelay.isZero()) {
                throw new IllegalArgumentException("idleWatchDelay must be positive, but was " + idleWatchDelay);
            }
            if (!Nanos.fits(idleWatchDelay)) {
                throw new IllegalArgumentException("idleWatchDelay must be at most " + Nanos.MAX + ", but was " + idleWatchDelay);
            }
            return new CloseOwningSocketFactory(this);
        }
    }
}
