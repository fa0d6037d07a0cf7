package io.github.portkeeper.http.internal;

import io.github.portkeeper.core.Ending;
import org.apache.hc.client5.http.impl.classic.RequestFailedException;
import org.apache.hc.client5.http.impl.io.ManagedHttpClientConnectionFactory;
import org.apache.hc.client5.http.io.ManagedHttpClientConnection;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.EndpointDetails;
import org.apache.hc.core5.http.HttpException;
import org.apache.hc.core5.http.ProtocolVersion;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.Identifiable;
import org.apache.hc.core5.util.Timeout;

import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.channels.SocketChannel;

/**
 * HttpClient's own connection (made by its public {@link ManagedHttpClientConnectionFactory}),
 * which additionally tells the pool the {@link SocketChannel} under it and whether bytes are left
 * in its session input buffer. The base socket is the plain one even when TLS is layered on top,
 * so the idle watcher and the close path work on TLS connections too.
 *
 * <p>It wraps rather than extends HttpClient's connection class: that class is public only from
 * HttpClient 5.6, and this works on 5.5 as well (the line Spring Boot 3.5 and 4.0 manage). Every
 * method delegates; the binds are also seen here, which is how the base socket is known, and
 * {@link #activate} evens out the one difference between the lines.
 *
 * <p>What it knows of the current response is kept by its {@link ResponseTracker}, and bytes left
 * unread are seen by its {@link UnreadInputProbe}.
 */
final class PortkeeperManagedConnection implements ManagedHttpClientConnection, Identifiable {

    private final ManagedHttpClientConnection delegate;
    private final UnreadInputProbe probe;
    private final ResponseTracker tracker;
    /** The plain socket under the connection (under TLS, if layered), once bound. */
    private volatile Socket baseSocket;
    /** The socket timeout it was bound with (the SocketConfig's), which {@link #activate} restores. */
    private volatile Timeout boundSocketTimeout;
    /** Whether this connection was closed: it is never bound again (see {@link #bind(Socket)}). */
    private volatile boolean closed;

    PortkeeperManagedConnection(Http1Config http1Config) {
        this.probe = new UnreadInputProbe();
        try {
            this.delegate = ManagedHttpClientConnectionFactory.builder()
                    .http1Config(http1Config)
                    .responseParserFactory(probe)
                    .build()
                    .createConnection(null);
        } catch (IOException e) {
            // Without a socket the factory does no I/O.
            throw new IllegalStateException(e);
        }
        this.tracker = new ResponseTracker(delegate);
    }

    /** The channel of the base (plain) socket, or null if not bound (or closed) or not channel-backed. */
    SocketChannel channel() {
        Socket base = baseSocket;
        return base != null && isBound() ? base.getChannel() : null;
    }

    /**
     * How this connection ends when the pool finds no channel under it ({@link #channel}): it is
     * closed already (HttpClient's connection closed it and dropped it), or it is not a channel
     * of ours (a SOCKS socket, a Unix domain socket), which the pool's dispose closes with
     * {@link CloseMode#IMMEDIATE}: an RST, or no TCP at all. Ours (channel sockets, and SOCKS
     * sockets: {@link ProxiedSocket}) are held with SO_LINGER 0 unless HttpClient's
     * {@code SocketConfig} set a linger (which applies once connected, see {@link #connected}), so
     * their closes are RSTs too.
     */
    Ending endingWithoutChannel() {
        Socket base = baseSocket;
        if (base instanceof ChannelSocket) {
            return ((ChannelSocket) base).closesWithReset() ? Ending.RESET : Ending.LOCAL;
        }
        if (base instanceof ProxiedSocket && base.isClosed()) {
            return ((ProxiedSocket) base).closesWithReset() ? Ending.RESET : Ending.LOCAL;
        }
        if (base != null && !base.isClosed()) {
            return Ending.RESET; // dispose resets it
        }
        return Ending.LOCAL; // closed some other way: cautiously, the TIME_WAIT it may have left
    }

    /**
     * The connection is connected (TLS included) and about to serve its first exchange: the
     * linger HttpClient's {@code SocketConfig} asked for applies from now on. Until now the socket
     * kept SO_LINGER 0, so that a failed connect or TLS handshake, closed by HttpClient and
     * recorded FAILED, was an RST and left no TIME_WAIT.
     */
    void connected() throws IOException {
        Socket base = baseSocket;
        if (base instanceof ChannelSocket) {
            ((ChannelSocket) base).applyRequestedLinger();
        } else if (base instanceof ProxiedSocket) {
            ((ProxiedSocket) base).applyRequestedLinger();
        }
    }

    /** Whether a socket is bound: HttpClient's connection drops it when closed. */
    boolean isBound() {
        return delegate.getSocket() != null;
    }

    /**
     * Wakes a reader or writer waiting on this connection after the pool aborted it (closed its
     * channel with RST from another thread), by closing the socket over the channel.
     */
    void wakeAfterAbort() {
        SocketChannel channel = channel();
        if (channel != null && !channel.isOpen()) { // never closes a live connection behind the pool's back
            closeQuietly(baseSocket);
        }
    }

    /**
     * From now on refuses every bind, as if closed, without closing anything: the pool is about to
     * abort the connection (RST) while HttpClient's operator may still be connecting it, and it
     * must not go on to the next address of the host once this address fails.
     */
    void refuseBinds() {
        closed = true;
    }

    /**
     * Whether bytes the server sent after a complete response were read from the network and no
     * response consumed them. They would be read as the next caller's response, and a readiness
     * check on the channel cannot see them: they sit in HttpClient's session buffer or, over TLS,
     * decrypted inside the {@link SSLSocket} (HttpClient reads a body over 512 bytes straight
     * into the caller's array, asking for no more than the body, and the rest of the TLS record
     * stays in the socket).
     */
    boolean hasBufferedInput() {
        return probe.hasBufferedBytes() || UnreadInputProbe.hasDecryptedInput(delegate.getSocket());
    }

    @Override
    public String getId() {
        return delegate instanceof Identifiable ? ((Identifiable) delegate).getId() : toString();
    }

    /**
     * Refuses a socket once the connection was closed: HttpClient's operator binds each address's
     * new socket here before connecting it, and a cancel (or the manager's close) that closed the
     * connection during one address's connect must not let it go on to the next address, connect
     * there and do a whole TLS handshake for a request nobody waits for.
     */
    @Override
    public void bind(Socket socket) throws IOException {
        delegate.bind(socket);
        noteBase(socket);
        boundSocketTimeout = delegate.getSocketTimeout();
        refuseIfClosed(socket);
    }

    /**
     * {@code socket} is the one TLS was layered on: the plain socket for HTTPS, but for HTTPS
     * through an HTTPS proxy the proxy's TLS socket, itself over the plain one (HttpClient's
     * operator passes {@code conn.getSocket()} when it upgrades the tunnel).
     */
    @Override
    public void bind(SSLSocket sslSocket, Socket socket) throws IOException {
        delegate.bind(sslSocket, socket);
        noteBase(socket);
        boundSocketTimeout = delegate.getSocketTimeout();
        refuseIfClosed(sslSocket);
    }

    /**
     * After a bind: if the connection was closed meanwhile, closes what was just bound and fails
     * as HttpClient fails a request cancelled before it connects. The bind notes its socket
     * before it reads {@link #closed}, and a close sets {@code closed} before it reads the socket
     * (both volatile), so at least one of them sees the other and the socket is closed.
     */
    private void refuseIfClosed(Socket socket) throws IOException {
        if (closed) {
            closeQuietly(baseSocket);
            try {
                socket.close();
            } catch (IOException ignored) {
                // Closed already.
            }
            throw new RequestFailedException("Request aborted: the connection was closed while it connected");
        }
    }

    /**
     * Keeps the plain socket at the bottom of the stack as the base: a TLS socket bound later is
     * layered over it (a tunnel's TLS over a proxy's TLS over it) and must not replace it. Only
     * that socket holds this connection's selector, and closing a TLS socket does not always
     * reach it: JSSE's close first asks the stream under it how many bytes are left, which fails
     * once the pool has closed the channel, and then never closes the layer under it.
     */
    private void noteBase(Socket socket) {
        if (!(socket instanceof SSLSocket) || baseSocket == null) {
            baseSocket = socket;
        }
    }

    @Override
    public Socket getSocket() {
        return delegate.getSocket();
    }

    @Override
    public SSLSession getSSLSession() {
        return delegate.getSSLSession();
    }

    @Override
    public void passivate() {
        delegate.passivate();
    }

    /**
     * Restores the socket timeout the connection was bound with, as HttpClient 5.6 does. HttpClient
     * 5.5 would restore the last one set instead (the previous exchange's own), so a reused
     * connection behaves alike on both lines only if it is done here.
     */
    @Override
    public void activate() {
        Timeout bound = boundSocketTimeout;
        if (bound != null) {
            delegate.setSocketTimeout(bound);
        } else {
            delegate.activate();
        }
    }

    @Override
    public boolean isConsistent() {
        return delegate.isConsistent();
    }

    @Override
    public void sendRequestHeader(ClassicHttpRequest request) throws HttpException, IOException {
        delegate.sendRequestHeader(request);
    }

    @Override
    public void terminateRequest(ClassicHttpRequest request) throws HttpException, IOException {
        delegate.terminateRequest(request);
    }

    @Override
    public void sendRequestEntity(ClassicHttpRequest request) throws HttpException, IOException {
        delegate.sendRequestEntity(request);
    }

    @Override
    public ClassicHttpResponse receiveResponseHeader() throws HttpException, IOException {
        return delegate.receiveResponseHeader();
    }

    @Override
    public void receiveResponseEntity(ClassicHttpResponse response) throws HttpException, IOException {
        delegate.receiveResponseEntity(response);
        tracker.entityReceived(response);
    }

    /** A request is about to go out: its response is not done until its body is. */
    void exchangeStarted() {
        tracker.exchangeStarted();
    }

    /**
     * The exchange returned a response head; one without a body is done at once.
     * {@code closeExpected}: the server closes the connection after it.
     */
    void responseReceived(ClassicHttpResponse response, boolean closeExpected) {
        tracker.responseReceived(response, closeExpected);
    }

    /** Whether the current response's body was read to its end (see {@link ResponseTracker}). */
    boolean isBodyAtEnd() {
        return tracker.isBodyAtEnd();
    }

    boolean isBodyOpened() {
        return tracker.isBodyOpened();
    }

    /** Whether nobody reads the current response any more (see {@link ResponseTracker}). */
    boolean isResponseDone() {
        return tracker.isResponseDone();
    }

    @Override
    public boolean isDataAvailable(Timeout timeout) throws IOException {
        return delegate.isDataAvailable(timeout);
    }

    @Override
    public boolean isStale() throws IOException {
        return delegate.isStale();
    }

    @Override
    public void flush() throws IOException {
        delegate.flush();
    }

    @Override
    public EndpointDetails getEndpointDetails() {
        return delegate.getEndpointDetails();
    }

    @Override
    public SocketAddress getLocalAddress() {
        return delegate.getLocalAddress();
    }

    @Override
    public SocketAddress getRemoteAddress() {
        return delegate.getRemoteAddress();
    }

    @Override
    public ProtocolVersion getProtocolVersion() {
        return delegate.getProtocolVersion();
    }

    @Override
    public boolean isOpen() {
        return delegate.isOpen();
    }

    @Override
    public Timeout getSocketTimeout() {
        return delegate.getSocketTimeout();
    }

    @Override
    public void setSocketTimeout(Timeout timeout) {
        delegate.setSocketTimeout(timeout);
    }

    /**
     * Also closes the plain socket under a TLS one, so that its own selector is released even if
     * the TLS layer did not close it.
     */
    @Override
    public void close() throws IOException {
        closed = true;
        Socket base = isBound() ? baseSocket : null;
        try {
            delegate.close();
        } finally {
            closeQuietly(base);
        }
    }

    @Override
    public void close(CloseMode closeMode) {
        closed = true;
        Socket base = isBound() ? baseSocket : null;
        try {
            delegate.close(closeMode);
        } finally {
            closeQuietly(base);
        }
    }

    private static void closeQuietly(Socket socket) {
        if (socket instanceof ChannelSocket) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // Closed already; the channel's descriptor is released either way.
            }
        }
    }

    @Override
    public String toString() {
        return delegate.toString();
    }
}
