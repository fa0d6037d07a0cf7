package io.github.portkeeper.okhttp;

import io.github.portkeeper.core.CloseOwningSocketFactory;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.internal.Nanos;
import okhttp3.Call;
import okhttp3.Connection;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;

import java.net.InetSocketAddress;
import java.net.Proxy;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * OkHttp with Portkeeper's close ownership, in one call:
 *
 * <pre>{@code
 * CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("catalog").build();
 * OkHttpClient client = PortkeeperOkHttp.configure(new OkHttpClient.Builder(), sockets, 32).build();
 * PoolMetrics.of(sockets).bindTo(registry);   // optional: the portkeeper.* meters
 * }</pre>
 *
 * <p>OkHttp's pool keeps deciding <em>when</em> a connection goes (beyond its idle limit, after
 * its keep-alive, when a response says {@code Connection: close}); the socket factory decides
 * <em>how</em>: the server's FIN is awaited instead of sending one, so this host keeps no
 * TIME_WAIT, and a server's close of an idle pooled connection is answered at once, so no
 * CLOSE_WAIT waits for OkHttp's next cleanup.
 *
 * <p>Thread-safe, stateless.
 */
public final class PortkeeperOkHttp {

    /** OkHttp's own default keep-alive of idle connections. */
    private static final Duration DEFAULT_KEEP_ALIVE = Duration.ofMinutes(5);

    private PortkeeperOkHttp() {
    }

    /**
     * Configures {@code builder} with the socket factory, a connection pool that keeps up to
     * {@code concurrency} idle connections (OkHttp's default of 5 closes every connection beyond
     * five right after use: with 32 threads, a new connection for most requests), a dispatcher
     * allowing {@code concurrency} asynchronous calls per host, and an event listener that
     * reports reused and new connections to the factory's meters.
     *
     * <p>Replaces any event listener set before; to keep one, combine them with
     * {@link #eventListener} and {@link EventListener#plus}. Replaces any connection pool set
     * before too (its idle limit is fixed when it is made), so clients meant to share one pool
     * should be built from one configured builder, or with {@code newBuilder()} from one
     * configured client. Keeps a dispatcher set before, raising its limits of requests in all and
     * per host to {@code concurrency} where they are lower (on a dispatcher shared with other
     * clients, for those too); without one, sets a new one.
     *
     * <p>Refuses a builder whose proxy is a SOCKS proxy: OkHttp connects through one with
     * {@code new Socket(proxy)}, never with the socket factory. A {@link java.net.ProxySelector}
     * that returns SOCKS proxies (the JVM's default does when {@code socksProxyHost} is set) is
     * not checked: connections it routes through SOCKS bypass the factory the same way.
     *
     * @param builder     the OkHttp builder
     * @param sockets     the close-owning socket factory
     * @param concurrency the number of requests expected in flight at once, at least 1
     * @return {@code builder}
     * @throws IllegalArgumentException {@code "concurrency must be at least 1, but was 0"}, or a
     *         builder whose proxy is a SOCKS proxy ({@code "proxy must not be a SOCKS proxy, but was
     *         SOCKS @ /127.0.0.1:1080: ..."})
     * @throws NullPointerException {@code "builder"} or {@code "sockets"}, if one is {@code null}
     */
    public static OkHttpClient.Builder configure(OkHttpClient.Builder builder, CloseOwningSocketFactory sockets, int concurrency) {
        return configure(builder, sockets, concurrency, DEFAULT_KEEP_ALIVE);
    }

    /**
     * As {@link #configure(OkHttpClient.Builder, CloseOwningSocketFactory, int)}, with the pool's
     * keep-alive: how long OkHttp keeps an unused connection before it closes it (through the
     * factory, so by the retirement policy). It is handed to OkHttp in nanoseconds: a
     * sub-millisecond keep-alive is kept as given, and one longer than {@code Long.MAX_VALUE}
     * nanoseconds (about 292 years) is taken as that.
     *
     * @param builder     the OkHttp builder
     * @param sockets     the close-owning socket factory
     * @param concurrency the number of requests expected in flight at once, at least 1
     * @param keepAlive   OkHttp's keep-alive of idle connections, positive
     * @return {@code builder}
     * @throws IllegalArgumentException {@code "concurrency must be at least 1, but was 0"},
     *         {@code "keepAlive must be positive, but was PT0S"} (also for {@code null}), or a
     *         builder whose proxy is a SOCKS proxy
     * @throws NullPointerException {@code "builder"} or {@code "sockets"}, if one is {@code null}
     */
    public static OkHttpClient.Builder configure(OkHttpClient.Builder builder, CloseOwningSocketFactory sockets, int concurrency,
            Duration keepAlive) {
        Objects.requireNonNull(builder, "builder");
        Objects.requireNonNull(sockets, "sockets");
        if (concurrency < 1) {
            throw new IllegalArgumentException("concurrency must be at least 1, but was " + concurrency);
        }
        if (keepAlive == null || keepAlive.isNegative() || keepAlive.isZero()) {
            throw new IllegalArgumentException("keepAlive must be positive, but was " + keepAlive);
        }
        // The builder has no getters: a client built from it shows what it holds, the caller's
        // dispatcher (or a new one) and proxy. Nothing it builds starts a thread.
        OkHttpClient configured = builder.build();
        Proxy proxy = configured.proxy();
        if (proxy != null && proxy.type() == Proxy.Type.SOCKS) {
            throw new IllegalArgumentException("proxy must not be a SOCKS proxy, but was " + proxy + ": OkHttp opens a "
                    + "connection through a SOCKS proxy with new Socket(proxy), never with the socket factory, so "
                    + "Portkeeper would own none of its closes");
        }
        Dispatcher dispatcher = configured.dispatcher();
        dispatcher.setMaxRequests(Math.max(dispatcher.getMaxRequests(), concurrency));
        dispatcher.setMaxRequestsPerHost(Math.max(dispatcher.getMaxRequestsPerHost(), concurrency));
        return builder.socketFactory(sockets)
                .connectionPool(new ConnectionPool(concurrency, Nanos.saturated(keepAlive), TimeUnit.NANOSECONDS)) // not whole ms: 500 µs must not become 0
                .dispatcher(dispatcher)
                .eventListenerFactory(call -> eventListener(sockets));
    }

    /**
     * A listener for one call that reports each connection OkHttp acquires for it to the
     * factory's {@code portkeeper.leases} meter: {@code reused} when it came from OkHttp's pool,
     * {@code new} when the call had to connect.
     *
     * @param sockets the factory whose meters count the leases
     * @return a new listener, for one call
     */
    public static EventListener eventListener(CloseOwningSocketFactory sockets) {
        return new LeaseReporter(Objects.requireNonNull(sockets, "sockets"));
    }

    /** Per call: a connection acquired without a connect before it was reused from the pool. */
    private static final class LeaseReporter extends EventListener {

        private final CloseOwningSocketFactory sockets;
        private boolean connected;

        LeaseReporter(CloseOwningSocketFactory sockets) {
            this.sockets = sockets;
        }

        @Override
        public void connectStart(Call call, InetSocketAddress address, Proxy proxy) {
            connected = true;
        }

        @Override
        public void connectionAcquired(Call call, Connection connection) {
            InetSocketAddress remote = connection.route().socketAddress();
            sockets.recordLease(Endpoint.of(remote.getHostString(), remote.getPort()), !connected);
            connected = false;
        }
    }
}
