package io.github.portkeeper.core.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The streams a {@link SocketView} hands out, and what every stream call of the view shares:
 * the count of calls in progress that a close from another thread reads, whether an answer has
 * arrived since the exchange began, and how a failed call is reported to the view and thrown.
 *
 * <p>Why apart: the view is otherwise the {@link Socket} API forwarded to the delegate or
 * refused; the stream calls are where it meets a close from another thread, and read best
 * together, away from that boilerplate. The view's hooks ({@code open}, {@code failed},
 * {@code endOfStream}, ...) stay the view's, called from here.
 *
 * <p>Like the view, one instance is meant for one thread at a time (a close may come from another).
 */
final class SocketViewStreams {

    private final SocketView view;
    private final InputStream in = new GuardedInput();
    private final OutputStream out = new GuardedOutput();
    private InputStream rawIn;
    private OutputStream rawOut;
    private final AtomicInteger callsInProgress = new AtomicInteger();
    /** A read returned bytes since {@link #newExchange()}; volatile for a view that writes on another thread. */
    private volatile boolean received;

    SocketViewStreams(SocketView view) {
        this.view = view;
    }

    /** The guarded input stream, the same one every time. */
    InputStream in() {
        return in;
    }

    /** The guarded output stream, the same one every time. */
    OutputStream out() {
        return out;
    }

    /** See {@link SocketView#newExchange()}. */
    void newExchange() {
        received = false;
    }

    /**
     * A stream call (read, write, flush, {@code available}, urgent data) is starting, before it
     * checks that the view is open: counted, so a close from another thread can tell whether
     * it must abort a call in progress (the call raises the count before it reads the view's
     * closed state; a close writes that state before it reads the count: one sees the other).
     */
    private void beginCall() {
        callsInProgress.incrementAndGet();
    }

    /** The call {@link #beginCall()} announced has ended, however it ended. */
    private void endCall() {
        callsInProgress.decrementAndGet();
    }

    /** Whether a stream call is in progress (on another thread, when asked from a close). */
    boolean callInProgress() {
        return callsInProgress.get() > 0;
    }

    /** The exception a failed stream call throws, after {@link SocketView#failed()}. */
    private IOException failure(IOException e) {
        if (view.closedUnderCall() && !(e instanceof SocketException)) {
            SocketException closedUnderIt = new SocketException("Socket closed");
            closedUnderIt.initCause(e);
            return closedUnderIt;
        }
        return e;
    }

    /** The delegate's input stream, fetched once (the JDK makes a new wrapper on every call). */
    private InputStream rawIn() throws IOException {
        Socket s = view.open();
        InputStream r = rawIn;
        if (r == null) {
            r = s.getInputStream();
            rawIn = r;
        }
        return r;
    }

    private OutputStream rawOut() throws IOException {
        Socket s = view.open();
        OutputStream r = rawOut;
        if (r == null) {
            r = s.getOutputStream();
            rawOut = r;
        }
        return r;
    }

    private IOException failed(IOException e) {
        if (!(e instanceof SocketTimeoutException) && !(e instanceof ClosedChannelException)) {
            view.lostUnderCall();
        }
        view.failed();
        return failure(e);
    }

    /** See {@link SocketView#fetchRawStreams()}. */
    void fetchRawStreams() throws IOException {
        rawIn();
        rawOut();
    }

    /** The view's {@link Socket#sendUrgentData(int)}: a stream call like a write. */
    void sendUrgentData(int data) throws IOException {
        beginCall();
        try {
            Socket s = view.open();
            try {
                s.sendUrgentData(data);
            } catch (IOException e) {
                throw failed(e);
            }
        } finally {
            endCall();
        }
    }

    private final class GuardedInput extends InputStream {

        @Override
        public int read() throws IOException {
            beginCall();
            try {
                InputStream raw = rawIn();
                try {
                    int b = raw.read();
                    if (b < 0) {
                        view.endOfStream(received);
                    } else {
                        received = true;
                    }
                    return b;
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            beginCall();
            try {
                InputStream raw = rawIn();
                try {
                    int n = raw.read(b, off, len);
                    if (n < 0) {
                        view.endOfStream(received);
                    } else if (n > 0) {
                        received = true;
                    }
                    return n;
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        @Override
        public int available() throws IOException {
            beginCall();
            try {
                InputStream raw = rawIn();
                try {
                    return raw.available();
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        /** Closing the stream closes the socket, as with a plain socket. */
        @Override
        public void close() {
            view.close();
        }
    }

    private final class GuardedOutput extends OutputStream {

        @Override
        public void write(int b) throws IOException {
            beginCall();
            try {
                OutputStream raw = rawOut();
                try {
                    raw.write(b);
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            beginCall();
            try {
                OutputStream raw = rawOut();
                try {
                    raw.write(b, off, len);
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        @Override
        public void flush() throws IOException {
            beginCall();
            try {
                OutputStream raw = rawOut();
                try {
                    raw.flush();
                } catch (IOException e) {
                    throw failed(e);
                }
            } finally {
                endCall();
            }
        }

        /** Closing the stream closes the socket, as with a plain socket. */
        @Override
        public void close() {
            view.close();
        }
    }
}
