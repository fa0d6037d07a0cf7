package io.github.portkeeper.http.internal;

import io.github.portkeeper.core.Ending;
import org.apache.hc.client5.http.impl.classic.RequestFailedException;
import org.apache.hc.client5.http.impl.io.DefaultHttpResponseParserFactory;
import org.apache.hc.client5.http.impl.io.ManagedHttpClientConnectionFactory;
import org.apache.hc.client5.http.io.ManagedHttpClientConnection;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.EndpointDetails;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.HttpException;
import org.apache.hc.core5.http.ProtocolVersion;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.http.io.HttpMessageParser;
import org.apache.hc.core5.http.io.HttpMessageParserFactory;
import org.apache.hc.core5.http.io.SessionInputBuffer;
import org.apache.hc.core5.http.io.entity.HttpEntityWrapper;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.Identifiable;
import org.apache.hc.core5.util.Timeout;

import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;

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
 */
final class PortkeeperManagedConnection implements ManagedHttpClientConnection, Identifiable {

    private final ManagedHttpClientConnection delegate;
    private final BufferProbe probe;
    /** The plain socket under the connection (under TLS, if layered), once bound. */
    private volatile Socket baseSocket;
    /** The socket timeout it was bound with (the SocketConfig's), which {@link #activate} restores. */
    private volatile Timeout boundSocketTimeout;
    /**
     * Whether nobody reads the current response any more: its body was read to its end or its
     * stream closed, or it had none. Volatile: a close from another thread reads it, to tell a
     * cancel (a reader may be blocked: abort) from a response finished on another thread.
     */
    private volatile boolean responseDone = true;
    /**
     * Whether the current response's body was read to its end (its stream returned end of
     * stream), or it had none. Unlike {@link #responseDone}, a close of the stream does not set
     * it: HttpCore's stream for a body delimited by the connection's close leaves the rest unread
     * when closed, and that rest may never end (an event stream). Volatile, as responseDone.
     */
    private volatile boolean bodyAtEnd = true;
    /** Whether this connection was closed: it is never bound again (see {@link #bind(Socket)}). */
    private volatile boolean closed;
    /**
     * Whether the server closes the connection after the current response (it announced so, or
     * the body ends with the close): the connection is never reused, so a body closed before its
     * end is not drained to it (see {@link EndSensingEntity}). Volatile: set by the exchange's
     * thread, read by whichever thread closes the body.
     */
    private volatile boolean closeExpected;

    /**
     * How long closing a body whose connection the server closes anyway reads what is left of
     * it, looking for its end: OkHttp's bound for the same discard (100 ms).
     */
    static final Duration END_SEARCH = Duration.ofMillis(100);

    PortkeeperManagedConnection(Http1Config http1Config) {
        this.probe = new BufferProbe();
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
        SessionInputBuffer buffer = probe.buffer;
        return buffer != null && buffer.length() > 0 || hasDecryptedInput();
    }

    /**
     * Whether the TLS socket holds decrypted bytes not yet read. JSSE's {@code available()}
     * answers from the record it has decrypted, without touching the network (read in
     * {@code sun.security.ssl.SSLSocketImpl.AppInputStream}). A plain socket is not asked: it
     * buffers nothing of its own (its buffer is HttpClient's), and asking would be a system call
     * for what the channel check at lease already sees. A socket that can no longer say (closed,
     * or its TLS layer broken) counts as holding bytes: such a connection is not reused.
     */
    private boolean hasDecryptedInput() {
        Socket socket = delegate.getSocket();
        if (!(socket instanceof SSLSocket)) {
            return false;
        }
        try {
            return socket.getInputStream().available() > 0;
        } catch (IOException e) {
            return true;
        }
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
        HttpEntity entity = response.getEntity();
        if (entity != null) {
            response.setEntity(new EndSensingEntity(entity));
        }
    }

    /** A request is about to go out: its response is not done until its body is. */
    void exchangeStarted() {
        responseDone = false;
        bodyAtEnd = false;
        closeExpected = false;
    }

    /**
     * The exchange returned a response head; one without a body is done at once.
     * {@code closeExpected}: the server closes the connection after it (see {@link #closeExpected}).
     */
    void responseReceived(ClassicHttpResponse response, boolean closeExpected) {
        this.closeExpected = closeExpected;
        if (response.getEntity() == null) {
            bodyAtEnd = true;
            responseDone = true;
        }
    }

    /** Whether the current response's body was read to its end (see {@link #bodyAtEnd}). */
    boolean isBodyAtEnd() {
        return bodyAtEnd;
    }

    /** Whether nobody reads the current response any more (see {@link #responseDone}). */
    boolean isResponseDone() {
        return responseDone;
    }

    /**
     * The response body, noting when it is read to its end, and when its stream is closed.
     *
     * <p>Closed before its end, HttpCore's stream of a body with a length or chunks reads the rest
     * of it, so that the connection can serve the next exchange: for as long as the rest takes,
     * without bound (an endless chunked event stream blocks the closing thread for good). That is
     * kept when the connection may be reused. When the server closes it anyway ({@link
     * #closeExpected}), nothing is gained by reading the rest: the close reads what is left for
     * at most {@link #END_SEARCH} instead (as OkHttp does), to tell a body already at its end (a
     * caller that stopped at the last byte without asking for the end, HttpClient 5.5's gzip
     * stream, which never reads the end of the body under it) from one that goes on; the stream
     * is left there, and the connection's discard resets it unless its end was found.
     */
    private final class EndSensingEntity extends HttpEntityWrapper {

        private InputStream content;

        EndSensingEntity(HttpEntity entity) {
            super(entity);
        }

        @Override
        public InputStream getContent() throws IOException {
            if (content == null) {
                content = new EndSensingStream(super.getContent());
            }
            return content;
        }

        @Override
        public void writeTo(OutputStream out) throws IOException {
            try (InputStream in = getContent()) {
                in.transferTo(out);
            }
        }

        /** Closes the body through {@link EndSensingStream#close}, not HttpCore's unbounded drain. */
        @Override
        public void close() throws IOException {
            InputStream in = getContent();
            if (in != null) {
                in.close();
            } else {
                super.close();
            }
        }
    }

    private final class EndSensingStream extends FilterInputStream {

        private boolean closed;

        EndSensingStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b < 0) {
                bodyAtEnd = true;
                responseDone = true;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n < 0) {
                bodyAtEnd = true;
                responseDone = true;
            }
            return n;
        }

        @Override
        public void close() throws IOException {
            if (closed) {
                return;
            }
            closed = true;
            try {
                if (closeExpected && !bodyAtEnd) {
                    searchEnd();
                } else {
                    super.close(); // HttpCore's body streams read what is left of the body here
                }
            } finally {
                responseDone = true;
            }
        }

        /**
         * Reads what is left of the body for at most {@link #END_SEARCH}, each read bounded by
         * the time left, and notes whether its end came. Any failure (a read timing out, the body
         * cut short) means it did not.
         */
        private void searchEnd() {
            Timeout before = delegate.getSocketTimeout();
            long deadline = System.nanoTime() + END_SEARCH.toNanos();
            byte[] skipped = new byte[4096];
            try {
                for (long left = END_SEARCH.toNanos(); left > 0; left = deadline - System.nanoTime()) {
                    delegate.setSocketTimeout(Timeout.ofMilliseconds(Math.max(1, left / 1_000_000)));
                    if (in.read(skipped) < 0) {
                        bodyAtEnd = true;
                        return;
                    }
                }
            } catch (IOException | RuntimeException e) {
                // Not at its end: the connection is reset.
            } finally {
                try {
                    delegate.setSocketTimeout(before);
                } catch (RuntimeException ignored) {
                    // Closed meanwhile; it is never reused.
                }
            }
        }
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

    /**
     * Response parser factory that remembers the connection's session input buffer (HttpCore
     * hands it to the parser of every response head; there is no other public way to see it).
     */
    private static final class BufferProbe implements HttpMessageParserFactory<ClassicHttpResponse> {

        volatile SessionInputBuffer buffer;

        @Override
        public HttpMessageParser<ClassicHttpResponse> create(Http1Config http1Config) {
            // HttpClient's own factory, as its manager uses: a lenient parser that skips garbage
            // lines before the status line (HttpCore's default parser fails on them).
            HttpMessageParser<ClassicHttpResponse> parser = DefaultHttpResponseParserFactory.INSTANCE.create(http1Config);
            return (SessionInputBuffer buffer, InputStream in) -> {
                if (this.buffer != buffer) {
                    this.buffer = buffer;
                }
                return parser.parse(buffer, in);
            };
        }
    }
}
