package io.github.portkeeper.rpc.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * Where a codec encodes a request, before a connection is leased, so that the request goes out
 * in one write (the same bytes again for a retry) and a failing encoder sends nothing and leases
 * nothing. Unsynchronized (unlike {@code ByteArrayOutputStream}): one call at a time.
 */
final class RequestBuffer extends OutputStream {

    private static final int INITIAL = 512;
    private static final int KEEP_AT_MOST = 64 * 1024;

    private byte[] buf = new byte[INITIAL];
    private int count;

    @Override
    public void write(int b) {
        ensure(1);
        buf[count++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        ensure(len);
        System.arraycopy(b, off, buf, count, len);
        count += len;
    }

    private void ensure(int more) {
        int needed = count + more;
        if (needed < 0) {
            throw new OutOfMemoryError("request larger than 2 GB");
        }
        if (needed > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(needed, (int) Math.min(Integer.MAX_VALUE - 8, buf.length * 2L)));
        }
    }

    /** Empties the buffer, dropping an array a large request left over 64 KiB. */
    void reset() {
        count = 0;
        if (buf.length > KEEP_AT_MOST) {
            buf = new byte[INITIAL]; // a one-off large request should not pin its buffer
        }
    }

    int size() {
        return count;
    }

    /** The bytes the buffer holds on to, for tests. */
    int capacity() {
        return buf.length;
    }

    void writeTo(OutputStream out) throws IOException {
        out.write(buf, 0, count);
        out.flush();
    }
}
