package io.github.portkeeper.rpc.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * Where a codec encodes a request, so that the request goes out in one write and a failing
 * encoder sends nothing. Unsynchronized (unlike {@code ByteArrayOutputStream}): one connection,
 * one lease holder.
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

    void reset() {
        count = 0;
        if (buf.length > KEEP_AT_MOST) {
            buf = new byte[INITIAL]; // a one-off large request should not pin its buffer
        }
    }

    int size() {
        return count;
    }

    void writeTo(OutputStream out) throws IOException {
        out.write(buf, 0, count);
        out.flush();
    }
}
