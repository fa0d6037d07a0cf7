package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.impl.io.DefaultHttpResponseParserFactory;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.config.Http1Config;
import org.apache.hc.core5.http.io.HttpMessageParser;
import org.apache.hc.core5.http.io.HttpMessageParserFactory;
import org.apache.hc.core5.http.io.SessionInputBuffer;

import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;

/**
 * Sees bytes a {@link PortkeeperManagedConnection} read from the network that no response
 * consumed, where a readiness check on the channel cannot: in HttpClient's session input buffer,
 * or decrypted inside a TLS socket. Why apart from the connection: both answers come from
 * HttpClient's and JSSE's insides (a parser factory that sees the buffer, JSSE's
 * {@code available()}), which are worth keeping out of the delegating connection.
 *
 * <p>As a response parser factory it remembers the connection's session input buffer (HttpCore
 * hands it to the parser of every response head; there is no other public way to see it).
 */
final class UnreadInputProbe implements HttpMessageParserFactory<ClassicHttpResponse> {

    private volatile SessionInputBuffer buffer;

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

    /** Whether HttpClient's session input buffer holds bytes no response consumed. */
    boolean hasBufferedBytes() {
        SessionInputBuffer buffer = this.buffer;
        return buffer != null && buffer.length() > 0;
    }

    /**
     * Whether the TLS socket holds decrypted bytes not yet read. JSSE's {@code available()}
     * answers from the record it has decrypted, without touching the network (read in
     * {@code sun.security.ssl.SSLSocketImpl.AppInputStream}). A plain socket is not asked: it
     * buffers nothing of its own (its buffer is HttpClient's), and asking would be a system call
     * for what the channel check at lease already sees. A socket that can no longer say (closed,
     * or its TLS layer broken) counts as holding bytes: such a connection is not reused.
     */
    static boolean hasDecryptedInput(Socket socket) {
        if (!(socket instanceof SSLSocket)) {
            return false;
        }
        try {
            return socket.getInputStream().available() > 0;
        } catch (IOException e) {
            return true;
        }
    }
}
