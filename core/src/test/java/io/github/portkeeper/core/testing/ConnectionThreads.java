package io.github.portkeeper.core.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * What every scripted test server shares: a listener, an accepting thread, a daemon thread per
 * connection, and a close that closes the listener and every open connection and joins the
 * threads within 5 s. The server says what a connection is served with; how it ends (FIN, reset)
 * stays the server's.
 *
 * <p>Thread-safety: safe to use from any thread.
 */
public final class ConnectionThreads implements AutoCloseable {

    /** What to do with a connection just accepted. */
    public interface OnAccept {
        /**
         * Called on the accepting thread. Returns the work for the connection's own thread, or
         * null if the server has already dealt with it (reset it on accept, say).
         */
        Runnable accepted(Socket s);
    }

    private static final long STOP_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final ServerSocket listener;
    private final String name;
    private final OnAccept onAccept;
    private final Thread acceptor;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final List<Thread> handlers = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    /**
     * Prepares to accept on {@code listener} (bound already); threads are named
     * {@code name-port} and {@code name-port-clientPort}. Nothing runs until {@link #start()}, so
     * a server can store this object in a field first: the threads it starts then see the field.
     */
    public ConnectionThreads(ServerSocket listener, String name, OnAccept onAccept) {
        this.listener = listener;
        this.name = name;
        this.onAccept = onAccept;
        this.acceptor = new Thread(this::acceptLoop, name + "-" + listener.getLocalPort());
        acceptor.setDaemon(true);
    }

    /** Starts accepting. */
    public void start() {
        acceptor.start();
    }

    private int port() {
        return listener.getLocalPort();
    }

    /** Whether {@link #close()} has begun. */
    public boolean isClosed() {
        return closed;
    }

    /** Connections accepted and not yet {@linkplain #ended ended}. */
    public int openConnections() {
        return open.size();
    }

    /** The server is done with {@code s} (it closed or reset it): close no longer needs to. */
    public void ended(Socket s) {
        open.remove(s);
    }

    /**
     * Closes the listener and every open connection (a plain close: FIN, or a reset where
     * unread bytes remain) and joins the threads.
     *
     * @throws IllegalStateException if a thread is still running after 5 s, or on interrupt
     */
    @Override
    public void close() {
        closed = true;
        closeQuietly(listener);
        for (Socket s : open) {
            closeQuietly(s);
        }
        long deadline = System.nanoTime() + STOP_NANOS;
        try {
            acceptor.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            for (Thread t : handlers) {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while stopping " + name + " " + port(), e);
        }
        if (acceptor.isAlive() || handlers.stream().anyMatch(Thread::isAlive)) {
            throw new IllegalStateException(name + " " + port() + " did not stop within 5 s");
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = listener.accept();
            } catch (IOException e) {
                return; // listener closed
            }
            Runnable work = onAccept.accepted(s);
            if (work == null) {
                continue;
            }
            open.add(s);
            Thread t = new Thread(work, name + "-" + port() + "-" + s.getPort());
            t.setDaemon(true);
            handlers.add(t);
            if (closed) { // close() may have missed it: never leave it open
                closeQuietly(s);
                open.remove(s);
                continue;
            }
            t.start();
        }
    }

    /** Closes {@code c}, ignoring a failure: the test is tearing down either way. */
    public static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // Closing anyway.
        }
    }
}
