package io.github.portkeeper.rpc.internal;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The buffered input a codec decodes one response from. It enforces the call's deadline (each
 * read from the socket gets SO_TIMEOUT = the time left), stops the response at the codec's
 * maximum frame size, and records what went wrong underneath (end of stream, timeout, socket
 * error, limit), so the client can classify a failure whatever exception the codec turned it
 * into.
 *
 * <p>One per connection, used by the lease holder only. It never reads from the socket while
 * it still holds unread bytes, so what it holds after a response is exactly what the peer sent
 * beyond it.
 */
public final class ResponseInput extends InputStream {

    private final Socket socket;
    private final InputStream source;
    private final byte[] buf;
    private int pos;
    private int limit;

    private long deadline;
    private long maxBytes;
    private long delivered;
    private boolean eof;
    private boolean timedOut;
    private boolean overLimit;
    private IOException failure;

    public ResponseInput(Socket socket, InputStream source, int bufferSize) {
        this.socket = socket;
        this.source = source;
        this.buf = new byte[bufferSize];
    }

    /** Starts a response: reads fail after {@code deadlineNanos} ({@link System#nanoTime()}) and beyond {@code maxBytes}. */
    public void begin(long deadlineNanos, long maxBytes) {
        this.deadline = deadlineNanos;
        this.maxBytes = maxBytes;
        this.delivered = 0;
        this.eof = false;
        this.timedOut = false;
        this.overLimit = false;
        this.failure = null;
    }

    @Override
    public int read() throws IOException {
        checkLimit();
        if (pos == limit && !fill()) {
            return -1;
        }
        delivered++;
        return buf[pos++] & 0xFF;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
            return 0;
        }
        checkLimit();
        if (pos == limit && !fill()) {
            return -1;
        }
        int n = (int) Math.min(Math.min(len, limit - pos), maxBytes - delivered);
        System.arraycopy(buf, pos, b, off, n);
        pos += n;
        delivered += n;
        return n;
    }

    /** Only what is buffered: asking the socket would cost a system call. */
    @Override
    public int available() {
        return limit - pos;
    }

    /** Codecs must not close the connection's stream; ignored. */
    @Override
    public void close() {
    }

    private void checkLimit() throws IOException {
        if (delivered >= maxBytes) {
            overLimit = true;
            throw new IOException("response exceeds the maximum frame size of " + maxBytes + " bytes");
        }
    }

    private boolean fill() throws IOException {
        if (eof) {
            return false;
        }
        long remaining = deadline - System.nanoTime();
        if (remaining <= 0) {
            timedOut = true;
            throw new SocketTimeoutException("call timeout passed");
        }
        int n;
        try {
            socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, TimeUnit.NANOSECONDS.toMillis(remaining + 999_999))));
            n = source.read(buf, 0, buf.length);
        } catch (SocketTimeoutException e) {
            timedOut = true;
            throw e;
        } catch (IOException e) {
            failure = e;
            throw e;
        }
        if (n < 0) {
            eof = true;
            return false;
        }
        pos = 0;
        limit = n;
        return true;
    }

    /** Bytes handed to the codec for the current response. */
    public long delivered() {
        return delivered;
    }

    /** Bytes received beyond what the codec read. */
    public int buffered() {
        return limit - pos;
    }

    public boolean sawEndOfStream() {
        return eof;
    }

    public boolean timedOut() {
        return timedOut;
    }

    public boolean overLimit() {
        return overLimit;
    }

    /** The socket error seen while reading the current response, or null. */
    public IOException failure() {
        return failure;
    }
}
