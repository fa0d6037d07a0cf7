package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.io.ManagedHttpClientConnection;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.io.entity.HttpEntityWrapper;
import org.apache.hc.core5.util.Timeout;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;

/**
 * What a {@link PortkeeperManagedConnection} knows of its current response: whether anybody still
 * reads it, whether its body was read to its end, and whether the server closes the connection
 * after it; learned by wrapping the response's body in a stream that senses its end. Why apart
 * from the connection: the connection delegates HttpClient's interface, while this is the state
 * the pool decides reuse and endings by, and the body streams that move it.
 */
final class ResponseTracker {

    /**
     * How long closing a body whose connection the server closes anyway reads what is left of
     * it, looking for its end: OkHttp's bound for the same discard (100 ms).
     */
    static final Duration END_SEARCH = Duration.ofMillis(100);

    /** The connection the body is read from: its socket timeout bounds the search for the end. */
    private final ManagedHttpClientConnection connection;
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
    /**
     * Whether the server closes the connection after the current response (it announced so, or
     * the body ends with the close): the connection is never reused, so a body closed before its
     * end is not drained to it (see {@link EndSensingEntity}). Volatile: set by the exchange's
     * thread, read by whichever thread closes the body.
     */
    private volatile boolean closeExpected;
    /**
     * Whether anyone opened the current response's body. One nobody opened (HttpClient answering
     * a challenge on a new connection, an empty body it releases unread) is not known to go on:
     * its connection is left for the server's close, as one read to its end. Volatile, as above.
     */
    private volatile boolean bodyOpened;

    ResponseTracker(ManagedHttpClientConnection connection) {
        this.connection = connection;
    }

    /** A request is about to go out: its response is not done until its body is. */
    void exchangeStarted() {
        responseDone = false;
        bodyAtEnd = false;
        closeExpected = false;
        bodyOpened = false;
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

    /** HttpClient set the response's body: from now on its end is sensed. */
    void entityReceived(ClassicHttpResponse response) {
        HttpEntity entity = response.getEntity();
        if (entity != null) {
            response.setEntity(new EndSensingEntity(entity));
        }
    }

    /** Whether anyone opened the current response's body (see {@link #bodyOpened}). */
    boolean isBodyOpened() {
        return bodyOpened;
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
                bodyOpened = true;
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
            Timeout before = connection.getSocketTimeout();
            long deadline = System.nanoTime() + END_SEARCH.toNanos();
            byte[] skipped = new byte[4096];
            try {
                for (long left = END_SEARCH.toNanos(); left > 0; left = deadline - System.nanoTime()) {
                    connection.setSocketTimeout(Timeout.ofMilliseconds(Math.max(1, left / 1_000_000)));
                    if (in.read(skipped) < 0) {
                        bodyAtEnd = true;
                        return;
                    }
                }
            } catch (IOException | RuntimeException e) {
                // Not at its end: the connection is reset.
            } finally {
                try {
                    connection.setSocketTimeout(before);
                } catch (RuntimeException ignored) {
                    // Closed meanwhile; it is never reused.
                }
            }
        }
    }
}
