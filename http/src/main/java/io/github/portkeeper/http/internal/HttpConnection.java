package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.io.ManagedHttpClientConnection;

/**
 * A pooled HTTP connection: HttpClient's connection plus what Portkeeper learns about it during
 * an exchange. Fields are touched only by the lease holder.
 */
public final class HttpConnection {

    final PortkeeperManagedConnection conn;
    /** The last response said the server will close (Connection: close, HTTP/1.0 without keep-alive). */
    boolean closeExpected;
    /** The server's announced idle timeout (Keep-Alive: timeout=N) from the last response, in ms, or -1. */
    long keepAliveHintMillis = -1;
    /** Whether any request was ever written on it (it was connected and used). */
    boolean used;

    HttpConnection(PortkeeperManagedConnection conn) {
        this.conn = conn;
    }

    /** Whether the last response announced that the server will close the connection. */
    public boolean closeExpected() {
        return closeExpected;
    }

    /** The idle timeout the last response announced, in milliseconds, or -1. */
    public long keepAliveHintMillis() {
        return keepAliveHintMillis;
    }

    public ManagedHttpClientConnection managed() {
        return conn;
    }
}
