package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.impl.io.DefaultManagedHttpClientConnection;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.http.impl.io.DefaultHttpResponseParserFactory;
import org.apache.hc.core5.http.impl.io.SocketHolder;
import org.apache.hc.core5.http.io.HttpMessageParser;
import org.apache.hc.core5.http.io.HttpMessageParserFactory;
import org.apache.hc.core5.http.io.SessionInputBuffer;
import org.apache.hc.core5.io.CloseMode;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicLong;

/**
 * HttpClient's own connection, which additionally tells the pool the {@link SocketChannel} under
 * it and whether bytes are left in its session input buffer. The base socket is the plain one even
 * when TLS is layered on top, so the idle watcher and the close path work on TLS connections too.
 */
final class PortkeeperManagedConnection extends DefaultManagedHttpClientConnection {

    private static final AtomicLong IDS = new AtomicLong();

    private final BufferProbe probe;

    PortkeeperManagedConnection(Http1Config http1Config) {
        this(http1Config, new BufferProbe());
    }

    private PortkeeperManagedConnection(Http1Config http1Config, BufferProbe probe) {
        super("portkeeper-" + IDS.incrementAndGet(), null, null, http1Config, null, null, null, probe);
        this.probe = probe;
    }

    /** The channel of the base (plain) socket, or null if not bound or not channel-backed. */
    SocketChannel channel() {
        SocketHolder holder = getSocketHolder();
        if (holder == null) {
            return null;
        }
        Socket base = holder.getBaseSocket();
        return base != null ? base.getChannel() : null;
    }

    boolean isBound() {
        return getSocketHolder() != null;
    }

    /**
     * Wakes a reader or writer waiting on this connection after the pool aborted it (closed its
     * channel with RST from another thread), by closing the socket over the channel.
     */
    void wakeAfterAbort() {
        SocketChannel channel = channel();
        if (channel != null && !channel.isOpen()) { // never closes a live connection behind the pool's back
            closeQuietly(getSocketHolder() != null ? getSocketHolder().getBaseSocket() : null);
        }
    }

    /**
     * Also closes the plain socket under a TLS one, so that its own selector is released even if
     * the TLS layer did not close it.
     */
    @Override
    public void close(CloseMode closeMode) {
        SocketHolder holder = getSocketHolder();
        Socket base = holder != null ? holder.getBaseSocket() : null;
        try {
            super.close(closeMode);
        } finally {
            closeQuietly(base);
        }
    }

    @Override
    public void close() throws IOException {
        SocketHolder holder = getSocketHolder();
        Socket base = holder != null ? holder.getBaseSocket() : null;
        try {
            super.close();
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

    /**
     * Whether HttpClient has read bytes from the socket that no response consumed: bytes the
     * server sent after a complete response. They sit in HttpClient's buffer, where a readiness
     * check on the socket cannot see them, and would be read as the next caller's response.
     */
    boolean hasBufferedInput() {
        SessionInputBuffer buffer = probe.buffer;
        return buffer != null && buffer.length() > 0;
    }

    /**
     * Response parser factory that remembers the connection's session input buffer (HttpCore
     * hands it to the parser of every response head; there is no other public way to see it).
     */
    private static final class BufferProbe implements HttpMessageParserFactory<ClassicHttpResponse> {

        volatile SessionInputBuffer buffer;

        @Override
        public HttpMessageParser<ClassicHttpResponse> create(Http1Config http1Config) {
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
