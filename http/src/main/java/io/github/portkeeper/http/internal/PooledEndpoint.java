package io.github.portkeeper.http.internal;

import io.github.portkeeper.core.Lease;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.EndpointInfo;
import org.apache.hc.client5.http.impl.ConnectionHolder;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.HeaderElement;
import org.apache.hc.core5.http.HeaderElements;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.HttpException;
import org.apache.hc.core5.http.HttpHeaders;
import org.apache.hc.core5.http.HttpVersion;
import org.apache.hc.core5.http.ProtocolVersion;
import org.apache.hc.core5.http.impl.io.HttpRequestExecutor;
import org.apache.hc.core5.http.message.MessageSupport;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.Timeout;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.Iterator;
import java.util.concurrent.atomic.AtomicReference;

/**
 * HttpClient's view of one leased connection. It runs exchanges on it and turns HttpClient's
 * close requests into Portkeeper decisions: a connection the server announced it will close is
 * retired (the server's FIN ends it: PEER), any other discarded connection is aborted with RST
 * (its stream may be mid-response, and a cancel from another thread must unblock the reader).
 * Either way the endpoint is disconnected at once ({@link #isConnected()} turns false): HttpClient
 * then connects it again (a retry after {@code 401} with {@code Connection: close}, a proxy
 * {@code CONNECT} that must be re-sent), and the manager gives it a new connection for that.
 */
public final class PooledEndpoint extends ConnectionEndpoint implements ConnectionHolder {

    /** Context attribute: whether the exchange ran on a connection reused from the pool. */
    public static final String REUSED_ATTRIBUTE = "portkeeper.connection.reused";

    private final AtomicReference<Lease<HttpConnection>> leaseRef;
    private final HttpRoute route;
    private volatile boolean discarded;
    /** HttpClient closed the connection; the lease is still held, to be swapped on reconnect or given back on release. */
    private volatile boolean disconnected;
    /**
     * The connect of a tunnel (TCP to the proxy) is done, and goes on with the TLS handshake with
     * the target in the manager's {@code upgrade}, which reports it; see {@link #awaitUpgrade}.
     */
    private volatile boolean awaitingUpgrade;
    /** When that connect began (nanoTime), while {@link #awaitingUpgrade}. */
    private volatile long upgradeConnectStart;

    public PooledEndpoint(Lease<HttpConnection> lease, HttpRoute route) {
        this.leaseRef = new AtomicReference<>(lease);
        this.route = route;
    }

    /** Whether HttpClient closed the connection since it was last connected. */
    public boolean isDisconnected() {
        return disconnected;
    }

    /**
     * Replaces the disconnected (and already given back) {@code old} lease with {@code fresh}, on
     * reconnect; false if the endpoint was released meanwhile.
     */
    public boolean replace(Lease<HttpConnection> old, Lease<HttpConnection> fresh) {
        if (!leaseRef.compareAndSet(old, fresh)) {
            return false;
        }
        disconnected = false;
        discarded = false;
        awaitingUpgrade = false;
        return true;
    }

    public HttpRoute route() {
        return route;
    }

    /**
     * HttpClient's operator connected TCP to the proxy of a tunnel, in a connect that began at
     * {@code start} (nanoTime) and is not done: HttpClient sends its {@code CONNECT} over it, and
     * the manager's {@code upgrade} handshakes TLS with the target through the tunnel, then calls
     * {@link #markConnected}. Until then the socket keeps SO_LINGER 0 and the connection counts as
     * not connected ({@link #discard} resets it). False if the endpoint was closed or released
     * meanwhile, as for {@link #markConnected}.
     */
    public boolean awaitUpgrade(long start) {
        if (leaseRef.get() == null || disconnected) {
            return false;
        }
        upgradeConnectStart = start;
        awaitingUpgrade = true;
        return true;
    }

    /**
     * Whether the connect was left to the upgrade ({@link #awaitUpgrade}), and clears that: an
     * upgrade reports it once.
     */
    public boolean takeAwaitingUpgrade() {
        boolean awaiting = awaitingUpgrade;
        awaitingUpgrade = false;
        return awaiting;
    }

    /** When the connect left to the upgrade began (nanoTime); see {@link #awaitUpgrade}. */
    public long upgradeConnectStart() {
        return upgradeConnectStart;
    }

    /**
     * The connection reached its peer (HttpClient's operator connected it, TLS included; through
     * a tunnel, the TLS handshake with the target included) at
     * {@code now} (nanoTime). From here on the user's linger ({@code SocketConfig}) applies to
     * the socket, which kept SO_LINGER 0 until now. False if the endpoint was closed or released
     * while it connected (a cancel, the manager's close): then nobody else closes what was
     * connected, and the caller must.
     *
     * @throws IOException if the user's linger cannot be set (the socket was closed meanwhile)
     */
    public boolean markConnected(long now) throws IOException {
        Lease<HttpConnection> lease = leaseRef.get();
        if (lease == null || disconnected) {
            return false;
        }
        HttpConnection c = lease.connection();
        c.conn.connected();
        c.used = true;
        c.connectedAt = now;
        c.route = route;
        return true;
    }

    /** The lease this endpoint holds. */
    public Lease<HttpConnection> connectionLease() {
        return lease();
    }

    /** Records a reusable connection's return: its user token, when, and until when it may be reused. */
    public static void released(HttpConnection c, Object state, long now, long reusableUntil) {
        c.exchangeThread = null; // an idle connection keeps no thread reachable
        c.state = state;
        c.releasedAt = now;
        c.reusableUntil = reusableUntil;
    }

    /** Whether an idle connection is past its time to live or keep-alive (for closeExpired). */
    public static boolean expired(HttpConnection c, java.util.function.Function<HttpRoute, org.apache.hc.client5.http.config.ConnectionConfig> configs, long now) {
        return c.route != null && LeaseChecks.expired(c, configs.apply(c.route), now);
    }

    /** Whether HttpClient discarded the connection (closed the endpoint) before releasing it. */
    public boolean isDiscarded() {
        return discarded;
    }

    /** Takes the lease away from this endpoint (on release); null if already released. */
    public Lease<HttpConnection> detach() {
        return leaseRef.getAndSet(null);
    }

    private Lease<HttpConnection> lease() {
        Lease<HttpConnection> lease = leaseRef.get();
        if (lease == null) {
            throw new IllegalStateException("Endpoint already released");
        }
        return lease;
    }

    public HttpConnection connection() {
        return lease().connection();
    }

    @Override
    @Deprecated
    public ClassicHttpResponse execute(String id, ClassicHttpRequest request, HttpRequestExecutor executor,
                                       HttpContext context) throws IOException, HttpException {
        return execute(id, request, (req, conn, ctx) -> executor.execute(req, conn, ctx), context);
    }

    @Override
    public ClassicHttpResponse execute(String id, ClassicHttpRequest request, RequestExecutor executor,
                                       HttpContext context) throws IOException, HttpException {
        Lease<HttpConnection> lease = lease();
        HttpConnection c = lease.connection();
        if (lease.isLastUse()) {
            // Past its lifetime or request budget: ask the server to close after this response,
            // so the server, not this host, sends the first FIN.
            request.setHeader(HttpHeaders.CONNECTION, HeaderElements.CLOSE);
        }
        context.setAttribute(REUSED_ATTRIBUTE, lease.isReused());
        context.setAttribute(KeepAliveHintStrategy.CONNECTION_ATTRIBUTE, c);
        c.exchangeThread = Thread.currentThread();
        c.closeAnnounced = false;
        c.closeDelimited = false;
        c.keepAliveHintMillis = -1;
        c.conn.exchangeStarted();
        ClassicHttpResponse response = executor.execute(request, c.conn, context);
        c.closeAnnounced = lease.isLastUse() || serverWillClose(response);
        c.closeDelimited = endsWithClose(response);
        c.conn.responseReceived(response, c.closeExpected());
        // Read here rather than in a keep-alive strategy, so the hint works with any HttpClientBuilder.
        c.keepAliveHintMillis = KeepAliveHintStrategy.announcedTimeoutMillis(response);
        return response;
    }

    private static boolean serverWillClose(ClassicHttpResponse response) {
        if (hasToken(response, HeaderElements.CLOSE)) {
            return true;
        }
        ProtocolVersion version = response.getVersion();
        return version != null && version.lessEquals(HttpVersion.HTTP_1_0) && !hasToken(response, HeaderElements.KEEP_ALIVE);
    }

    /**
     * Whether the response's body is delimited by the connection's close (neither a length nor
     * chunks): the server closes to end it, so its FIN comes first, announced or not. HttpClient
     * does not reuse such a connection and discards it, and the pool leaves that close to the
     * server (PEER), as for {@code Connection: close}, rather than resetting it, once the body was
     * read to its end (see {@link #discard}).
     */
    private static boolean endsWithClose(ClassicHttpResponse response) {
        HttpEntity entity = response.getEntity();
        return entity != null && entity.getContentLength() < 0 && !entity.isChunked();
    }

    private static boolean hasToken(ClassicHttpResponse response, String token) {
        if (!response.containsHeader(HttpHeaders.CONNECTION)) {
            return false; // the common case, without the header parser's iterators
        }
        Iterator<HeaderElement> it = MessageSupport.iterate(response, HttpHeaders.CONNECTION);
        while (it.hasNext()) {
            if (token.equalsIgnoreCase(it.next().getName())) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean isConnected() {
        Lease<HttpConnection> lease = leaseRef.get();
        return lease != null && !disconnected && lease.connection().conn.isOpen() && lease.connection().conn.isBound();
    }

    /** HttpClient's (internal) access to the connection, as its own endpoints give it; null once released. */
    @Override
    public org.apache.hc.core5.http.HttpConnection get() {
        Lease<HttpConnection> lease = leaseRef.get();
        return lease != null ? lease.connection().conn : null;
    }

    @Override
    public EndpointInfo getInfo() {
        Lease<HttpConnection> lease = leaseRef.get();
        if (lease == null || !isConnected()) {
            return null;
        }
        PortkeeperManagedConnection conn = lease.connection().conn;
        return new EndpointInfo(conn.getProtocolVersion(), conn.getSSLSession());
    }

    @Override
    public void setSocketTimeout(Timeout timeout) {
        lease().connection().conn.setSocketTimeout(SubMillisecondTimeouts.roundedUp(timeout));
    }

    /**
     * HttpClient calls this to discard the connection (IMMEDIATE, also to cancel an exchange from
     * another thread), to disconnect it before a retry that needs a new one (GRACEFUL), or on
     * shutdown. From then on the endpoint reports itself disconnected. The socket is closed by
     * the pool's close path, so the ending is recorded; see {@link #discard(Lease, boolean)}.
     *
     * <p>An IMMEDIATE close from a thread other than the one that ran the exchange, while the
     * response is still being read, is a cancel: a reader may be blocked on the body, so the
     * connection is aborted at once, even if the server announced it would close it (retiring
     * would leave the reader blocked until the server sent the rest, and then share the stream
     * with the pool's drain). Once the body was read to its end (or its stream closed) nobody
     * reads it any more, whichever thread did it: HttpClient's discard that follows leaves the
     * close to the server as usual.
     *
     * <p>A lease closed meanwhile (given back by a release on another thread, or when HttpClient
     * connects the endpoint again) leaves nothing of this endpoint's to close.
     */
    @Override
    public void close(CloseMode closeMode) {
        Lease<HttpConnection> lease = leaseRef.get();
        if (lease == null) {
            return;
        }
        disconnected = true;
        discarded = true;
        HttpConnection c;
        try {
            c = lease.connection();
        } catch (IllegalStateException closed) {
            return;
        }
        if (closeMode == CloseMode.IMMEDIATE && c.used && c.exchangeThread != Thread.currentThread()
                && !c.conn.isResponseDone()) {
            abort(lease, c);
            return;
        }
        // A graceful close of a clean connection (nothing unread, here or in the socket's stream
        // state) can let the server close first; anything else may be mid-exchange: RST.
        boolean clean = closeMode == CloseMode.GRACEFUL && c.used && c.conn.isOpen() && c.conn.isConsistent()
                && !c.conn.hasBufferedInput();
        discard(lease, clean);
    }

    /**
     * Decides how an unwanted connection leaves. One the server closes after its last response
     * (it announced so, or the body ends with the close) whose body was read to its end, or a
     * clean one ({@code consistent}: nothing left unread), is retired: it awaits the server's FIN.
     * One in mid-exchange is aborted with RST: bytes are in flight, and a reader may be blocked.
     * So is one the server closes after a body closed before its end, announced or not: the body
     * was left unread (its stream looked for the end for a moment only, see
     * {@code ResponseTracker.EndSensingEntity}), and it may never end (an event
     * stream, a long poll, a chunked or gzip'd stream), so awaiting the FIN would only read and
     * throw away what the server goes on sending, until the drain timeout. Nothing of ours is in
     * flight on it, and the server was to close it anyway.
     * One not yet connected by HttpClient's operator is dropped; it may still be connecting, or
     * in its TLS handshake, on another thread (a cancel, the manager's close), so a socket bound
     * to it is closed at once, as HttpClient's manager does: aborted with RST if TCP is up (the
     * pool records RESET), else closed (never established: FAILED). Either way the connection
     * refuses further binds, so HttpClient's operator does not go on to the host's next address.
     */
    public static void discard(Lease<HttpConnection> lease, boolean consistent) {
        HttpConnection c = lease.connection();
        if (!c.used) {
            // First, before the channel is read: a bind on the connecting thread notes its socket
            // before it reads this, so one of the two sees the other (see refuseIfClosed). Then
            // HttpClient's operator cannot go on to the host's next address after an abort.
            c.conn.refuseBinds();
            SocketChannel channel = c.conn.channel();
            if (channel != null && channel.isConnected()) {
                abort(lease, c);
            } else {
                lease.markBroken();
                c.conn.close(CloseMode.IMMEDIATE);
            }
        } else if (c.closeExpected() ? c.conn.isBodyAtEnd() || !c.conn.isBodyOpened() : consistent) {
            // The server closes it: read to its end, or never opened (nothing says it goes on), its
            // close is the server's; opened and closed before its end, it may never end: reset.
            lease.retire();
        } else {
            abort(lease, c);
        }
    }

    /**
     * Aborts with RST, unless HttpClient already closed the connection itself (HttpCore closes it
     * when an exchange fails with an {@code HttpException}): then there is nothing left to reset,
     * and the pool records how that close went ({@code endingWithoutChannel}: a FIN if the user's
     * linger applies, else an RST).
     */
    private static void abort(Lease<HttpConnection> lease, HttpConnection c) {
        if (!c.conn.isBound()) {
            lease.markBroken();
            return;
        }
        lease.abort();
        c.conn.wakeAfterAbort(); // a reader blocked on it (a cancel from another thread) fails at once
    }

    @Override
    public void close() {
        close(CloseMode.GRACEFUL);
    }

    @Override
    public String toString() {
        Lease<HttpConnection> lease = leaseRef.get();
        if (lease == null) {
            return "PooledEndpoint[released]";
        }
        try {
            return "PooledEndpoint[" + lease.endpoint() + ", " + lease.connection().conn.getId() + "]";
        } catch (IllegalStateException closed) { // given back meanwhile (see close)
            return "PooledEndpoint[" + lease.endpoint() + ", closed]";
        }
    }
}
