package io.github.portkeeper.http.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A {@link ChannelSocket}'s streams: reads and writes on its non-blocking channel, waiting for
 * readiness (bounded by the socket timeout) when the channel has nothing to give or take. Why
 * apart from the socket: this is the whole I/O path of an exchange, read in one place; the
 * socket around it is options and addresses.
 */
final class ChannelStreams {

    private ChannelStreams() {
    }

    /** {@code b[off, off + len)} as a buffer, reusing {@code last} if it wraps the same array. */
    private static ByteBuffer wrap(ByteBuffer last, byte[] b, int off, int len) {
        if (last != null && last.array() == b) {
            last.limit(off + len).position(off);
            return last;
        }
        return ByteBuffer.wrap(b, off, len);
    }

    /** Reads; the socket timeout (SO_TIMEOUT) bounds each read, as it does a plain socket's. */
    static final class In extends InputStream {

        private final ChannelSocket socket;
        private final SocketChannel channel;
        private final Socket adaptor;
        private final ReadinessWaiter waiter;
        private final FirstReadPolicy firstRead;
        /** The last buffer read into, wrapped: HttpClient reuses its session buffers. */
        private ByteBuffer readBuffer;
        private volatile int timeoutMillis;

        In(ChannelSocket socket, SocketChannel channel, ReadinessWaiter waiter, FirstReadPolicy firstRead) {
            this.socket = socket;
            this.channel = channel;
            this.adaptor = channel.socket();
            this.waiter = waiter;
            this.firstRead = firstRead;
        }

        int timeoutMillis() {
            return timeoutMillis;
        }

        void timeoutMillis(int timeout) {
            timeoutMillis = timeout;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) {
                return 0;
            }
            ByteBuffer buffer = wrap(readBuffer, b, off, len);
            readBuffer = buffer;
            long deadline = 0;
            boolean timed = false;
            boolean afterRequest = firstRead.takeAwaitingReply();
            boolean tryFirst = !afterRequest || firstRead.readsFirstAfterRequest();
            boolean learn = afterRequest && tryFirst; // only a read at once says whether the reply was there
            for (;;) {
                if (tryFirst) {
                    int n;
                    try {
                        n = channel.read(buffer);
                    } catch (ClosedChannelException e) {
                        throw ReadinessWaiter.closedException();
                    }
                    if (learn) {
                        firstRead.learn(n == 0);
                        learn = false;
                    }
                    if (n != 0) {
                        return n;
                    }
                }
                tryFirst = true;
                int timeout = timeoutMillis;
                long wait = 0;
                if (timeout > 0) {
                    long now = System.nanoTime();
                    if (!timed) {
                        timed = true;
                        deadline = now + TimeUnit.MILLISECONDS.toNanos(timeout);
                    }
                    long left = deadline - now;
                    if (left <= 0) {
                        throw new SocketTimeoutException("Read timed out");
                    }
                    wait = Math.max(1, TimeUnit.NANOSECONDS.toMillis(left + 999_999));
                }
                waiter.await(SelectionKey.OP_READ, wait);
            }
        }

        @Override
        public int available() throws IOException {
            if (socket.isClosed()) {
                throw ReadinessWaiter.closedException();
            }
            return adaptor.isInputShutdown() ? 0 : channelAvailable();
        }

        /** Bytes readable now, without blocking: a non-blocking channel reports it through its adaptor's stream. */
        private int channelAvailable() throws IOException {
            return adaptor.getInputStream().available();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** Writes; a write waits for room without a time limit, as a plain socket's does. */
    static final class Out extends OutputStream {

        private final ChannelSocket socket;
        private final SocketChannel channel;
        private final ReadinessWaiter waiter;
        private final FirstReadPolicy firstRead;
        /** The last buffer written from, wrapped: HttpClient reuses its session buffers. */
        private ByteBuffer writeBuffer;

        Out(ChannelSocket socket, SocketChannel channel, ReadinessWaiter waiter, FirstReadPolicy firstRead) {
            this.socket = socket;
            this.channel = channel;
            this.waiter = waiter;
            this.firstRead = firstRead;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            ByteBuffer buffer = wrap(writeBuffer, b, off, len);
            writeBuffer = buffer;
            firstRead.requestSent();
            while (buffer.hasRemaining()) {
                int n;
                try {
                    n = channel.write(buffer);
                } catch (ClosedChannelException e) {
                    throw ReadinessWaiter.closedException();
                }
                if (n == 0) {
                    waiter.await(SelectionKey.OP_WRITE, 0);
                }
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
