package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.io.ManagedHttpClientConnection;

/**
 * A pooled HTTP connection: HttpClient's connection plus what Portkeeper learns about it during
 * an exchange. Fields are touched only by the lease holder (the pool hands the connection from
 * one holder to the next with a happens-before edge).
 */
public final class HttpConnection {

    final PortkeeperManagedConnection conn;
    /**
     * The last response said the server will close (Connection: close, HTTP/1.0 without
     * keep-alive), or it was the connection's last use (its request asked the server to close).
     */
    boolean closeAnnounced;
    /**
     * The last response's body is delimited by the connection's close (neither a length nor
     * chunks): the server closes to end it, but its FIN is due only once the body was read to its
     * end; the rest of one closed early may never end (an event stream, a long poll).
     */
    boolean closeDelimited;
    /** The server's announced idle timeout (Keep-Alive: timeout=N) from the last response, in ms, or -1. */
    long keepAliveHintMillis = -1;
    /** Whether any request was ever written on it (it was connected and used). */
    boolean used;
    /** The user token (HttpClient's connection state) it was last released with; null for none. */
    Object state;
    /** The route it was connected for. */
    org.apache.hc.client5.http.HttpRoute route;
    /** When it was connected (System.nanoTime), for ConnectionConfig's time-to-live. */
    long connectedAt;
    /** When it was last given back (System.nanoTime), for idle timeout and validation after inactivity. */
    long releasedAt;
    /** Until when HttpClient's keep-alive strategy allows reuse (System.nanoTime), or Long.MAX_VALUE. */
    long reusableUntil = Long.MAX_VALUE;
    /**
     * The thread running the current exchange; null between leases. Volatile: a cancel reads it
     * from another thread, to know that a reader may be blocked on the connection.
     */
    volatile Thread exchangeThread;

    HttpConnection(PortkeeperManagedConnection conn) {
        this.conn = conn;
    }

    /**
     * Whether the server will close the connection after the last response: it announced so, or
     * the response's body is delimited by the close.
     */
    public boolean closeExpected() {
        return closeAnnounced || closeDelimited;
    }

    /** The idle timeout the last response announced, in milliseconds, or -1. */
    public long keepAliveHintMillis() {
        return keepAliveHintMillis;
    }

    /** The user token the connection was last released with, or null. */
    public Object state() {
        return state;
    }

    /**
     * Whether bytes the server sent are left unread in HttpClient's buffer or, over TLS, decrypted
     * in the TLS socket. No system call.
     */
    public boolean hasBufferedInput() {
        return conn.hasBufferedInput();
    }

    public ManagedHttpClientConnection managed() {
        return conn;
    }
}
