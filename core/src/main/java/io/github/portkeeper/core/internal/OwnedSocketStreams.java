package io.github.portkeeper.core.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The streams an {@link OwnedSocket} hands its client, over the ones its {@link SocketView}
 * guards: each call takes the socket back from the {@link SocketWatcher} if it is watched and
 * counts itself in progress, bytes the watcher read ahead while the socket was idle are served
 * before the socket's own, and the shutdowns the socket records and the peer's FIN the watcher
 * answered are honoured. Also the one place, besides the watcher, that touches the read-ahead
 * buffer: a client read takes from it, the socket's close discards it.
 *
 * <p>Why apart: the socket is otherwise the {@link java.net.Socket} API and the close; the stream
 * calls are where it meets the watcher (the handshake of {@link OwnedSocket#inFlight} and
 * {@link OwnedSocket#state}) and a close from another thread, and read best together.
 *
 * <p>Like the socket, one instance is meant for one thread at a time (a close may come from another).
 */
final class OwnedSocketStreams {

    private final OwnedSocket socket;
    /** Guards the socket's read-ahead once the watcher gave the socket up; never held across I/O. */
    private final Object readAheadLock = new Object();
    /** Made once, under the socket's monitor. */
    private InputStream in;
    private OutputStream out;

    OwnedSocketStreams(OwnedSocket socket) {
        this.socket = socket;
    }

    /** The client's input stream over {@code guarded}, the same one every time; under the socket's monitor. */
    InputStream in(InputStream guarded) {
        if (in == null) {
            in = new Input(guarded);
        }
        return in;
    }

    /** The client's output stream over {@code guarded}, the same one every time; under the socket's monitor. */
    OutputStream out(OutputStream guarded) {
        if (out == null) {
            out = new Output(guarded);
        }
        return out;
    }

    /** Starts a client call: takes the socket back from the watcher if it is watched. */
    private void enter() throws IOException {
        socket.inFlight.incrementAndGet();
        if (socket.state == OwnedSocket.WATCHED) {
            try {
                socket.owner.watcher().reclaim(socket);
            } catch (IOException | RuntimeException e) {
                exit();
                throw e;
            }
        }
    }

    private void exit() {
        socket.lastActive = System.nanoTime();
        socket.inFlight.decrementAndGet();
    }

    /**
     * Bytes read ahead by the watcher, served before the socket's own; -1 if none. A close that
     * began meanwhile has discarded them, or will: the read fails as one on a closed socket.
     */
    private int readAhead(byte[] b, int off, int len) throws SocketException {
        synchronized (readAheadLock) {
            if (socket.closing()) {
                throw new SocketException("Socket is closed");
            }
            ByteBuffer ra = socket.readAhead;
            if (ra == null || ra.position() == 0) {
                return -1;
            }
            ra.flip();
            int n = Math.min(len, ra.remaining());
            ra.get(b, off, n);
            ra.compact();
            return n;
        }
    }

    /** Bytes read ahead and not yet read by the client. */
    private int readAheadBuffered() {
        synchronized (readAheadLock) {
            ByteBuffer ra = socket.readAhead;
            return ra == null ? 0 : ra.position();
        }
    }

    /** Empties the read-ahead (for a close) and returns how many bytes it held, unread. */
    int discardReadAhead() {
        synchronized (readAheadLock) {
            ByteBuffer ra = socket.readAhead;
            if (ra == null) {
                return 0;
            }
            int n = ra.position();
            ra.clear();
            return n;
        }
    }

    private final class Input extends InputStream {

        private final InputStream guarded;

        Input(InputStream guarded) {
            this.guarded = guarded;
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
            enter();
            try {
                socket.open(); // a closed socket's read-ahead was discarded with it
                if (socket.isInputShutdown()) {
                    return -1; // as after the JDK's shutdownInput, what had arrived is not read
                }
                int n = readAhead(b, off, len);
                if (n > 0) {
                    return n;
                }
                if (socket.state == OwnedSocket.PEER_ENDED) {
                    return -1;
                }
                return guarded.read(b, off, len);
            } finally {
                exit();
            }
        }

        @Override
        public int available() throws IOException {
            enter();
            try {
                socket.open();
                if (socket.isInputShutdown()) {
                    return 0;
                }
                int st = socket.state;
                int buffered = readAheadBuffered();
                return st == OwnedSocket.PEER_ENDED ? buffered : buffered + guarded.available();
            } finally {
                exit();
            }
        }

        @Override
        public void close() {
            socket.close();
        }
    }

    private final class Output extends OutputStream {

        private final OutputStream guarded;

        Output(OutputStream guarded) {
            this.guarded = guarded;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            enter();
            try {
                if (socket.state == OwnedSocket.PEER_ENDED) {
                    throw new SocketException("Connection closed by peer while idle");
                }
                if (socket.account.outputShut()) {
                    throw new SocketException("Socket output is shutdown");
                }
                socket.account.writing(b, off, len);
                socket.newExchange(); // a request: what was read before answered an earlier one
                guarded.write(b, off, len);
            } finally {
                exit();
            }
        }

        @Override
        public void flush() throws IOException {
            enter();
            try {
                if (socket.state != OwnedSocket.PEER_ENDED) {
                    guarded.flush();
                }
            } finally {
                exit();
            }
        }

        @Override
        public void close() {
            socket.close();
        }
    }
}
