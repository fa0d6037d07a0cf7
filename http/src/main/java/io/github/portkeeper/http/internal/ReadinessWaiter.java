package io.github.portkeeper.http.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.function.Consumer;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link ChannelSocket}'s wait for readiness of its non-blocking channel: one poll of a selector
 * this connection owns, opened at the first wait and closed with the channel. Why apart from the
 * socket: the selector, its key and the close that must wake a waiter are one small piece of
 * concurrency, and {@link #close} (which sets {@link #closed} before it reads the selector) and
 * {@link #await} (which publishes the selector before it reads {@code closed}) only pair up when
 * read side by side.
 */
final class ReadinessWaiter {

    /** The longest single sleep of a waiter, so a channel closed behind its back is noticed. */
    static final long WAIT_SLICE_MILLIS = 1000;

    /** A wait only needs to return: the caller reads or writes next and learns the outcome there. */
    private static final Consumer<SelectionKey> IGNORE_READY = key -> { };

    private final SocketChannel channel;
    /** Serialises waits on the selector: HttpClient reads and writes a connection from one thread. */
    private final ReentrantLock waitLock = new ReentrantLock(true);
    private volatile Selector selector;
    private SelectionKey key;
    private volatile boolean closed;

    ReadinessWaiter(SocketChannel channel) {
        this.channel = channel;
    }

    /** Waits until the channel is ready for {@code op}, {@code millis} at most (0: no limit), or is closed. */
    void await(int op, long millis) throws IOException {
        if (waitLock.isLocked()) {
            wakeup(); // the other direction is waiting: let it look again and take turns
        }
        waitLock.lock();
        try {
            Selector s = selector;
            if (s == null) {
                s = Selector.open();
                selector = s;
                if (closed) { // a close that ran meanwhile did not see this selector
                    s.close();
                    throw closedException();
                }
                key = channel.register(s, op);
            } else if (key.interestOps() != op) {
                key.interestOps(op);
            }
            if (!channel.isOpen()) {
                throw closedException();
            }
            // The action form: the one key's readiness is not added to (and then cleared from)
            // the selected-key set, which allocated a set entry per wait.
            s.select(IGNORE_READY, millis == 0 ? WAIT_SLICE_MILLIS : Math.min(millis, WAIT_SLICE_MILLIS));
            if (Thread.currentThread().isInterrupted()) {
                throw new InterruptedIOException("Interrupted while waiting on the socket");
            }
        } catch (ClosedChannelException | ClosedSelectorException | CancelledKeyException e) {
            throw closedException();
        } finally {
            waitLock.unlock();
        }
    }

    private void wakeup() {
        Selector s = selector;
        if (s != null) {
            s.wakeup();
        }
    }

    /** Closes the channel and the selector, waking any waiter. Idempotent. */
    void close() throws IOException {
        closed = true;
        try {
            channel.close();
        } finally {
            Selector s = selector;
            if (s != null) {
                s.close(); // wakes a waiter; deregistering lets the channel's descriptor go
            }
        }
    }

    /** Whether {@link #close} was called. */
    boolean isClosed() {
        return closed;
    }

    static SocketException closedException() {
        return new SocketException("Socket closed");
    }
}
