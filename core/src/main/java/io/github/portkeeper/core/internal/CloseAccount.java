package io.github.portkeeper.core.internal;

/**
 * What the client of an {@link OwnedSocket} did with it that decides how its close is counted:
 * whether an exchange failed (BROKEN rather than RETIRED), whether TLS is layered on top and
 * closed as TLS closes (a close_notify, then output shut down), and whether a call already
 * consumed a reset (a close then finding only an end of stream was an abort).
 *
 * <p>Why apart: the socket is otherwise the {@link java.net.Socket} API and its calls; this is
 * the one place that reads the bytes the client writes (to tell a TLS ClientHello) and the
 * rules that turn what happened into a count, which read best together. Output shut down is
 * kept here, not in the socket, because under TLS it is the mark of the close_notify.
 *
 * <p>Thread-safe: every flag is volatile, written by the client's calls, read by its close.
 */
final class CloseAccount {

    /** An exchange failed (an I/O error, or no answer before the end of stream). */
    private volatile boolean broken;
    /**
     * The client speaks TLS over it: a write began with a TLS ClientHello
     * ({@link #startsClientHello}), perhaps after a plain preamble such as PostgreSQL's
     * SSLRequest or MySQL's SSL request. Its
     * {@link OwnedSocket#shutdownOutput()} then follows its close_notify, and what it reads after
     * is the closing, not an answer to a request.
     */
    private volatile boolean tls;
    /** The client shut the socket's output down (recorded, not passed to the kernel). */
    private volatile boolean outputShut;
    /** A client call failed as a reset does; see {@link SocketView#lostUnderCall()}. */
    private volatile boolean lostUnderCall;

    /**
     * An I/O error: the exchange failed and served no request, so the close is counted as
     * broken (credits no avoided TIME_WAIT). How it closes is still the factory's to decide: it
     * looks for the peer's FIN itself.
     */
    void failed() {
        if (!tlsClosing()) {
            broken = true;
        }
    }

    /**
     * The end of stream after bytes of the answer to the last write is the server closing after
     * answering; before any, the request got no answer (a connection the server had closed): broken.
     */
    void endOfStream(boolean afterData) {
        if (!afterData && !tlsClosing()) {
            broken = true;
        }
    }

    /** Remembered: its close, finding only an end of stream, is an abort. */
    void lostUnderCall() {
        lostUnderCall = true;
    }

    /** Whether a client call failed as a reset (or a kernel abort) does. */
    boolean wasLostUnderCall() {
        return lostUnderCall;
    }

    /** The client is writing {@code b[off, off + len)}: a TLS ClientHello marks the socket as TLS. */
    void writing(byte[] b, int off, int len) {
        if (!tls && startsClientHello(b, off, len)) {
            tls = true;
        }
    }

    /** The client shut the socket's output down (after TLS, that follows its close_notify). */
    void shutOutput() {
        outputShut = true;
    }

    boolean outputShut() {
        return outputShut;
    }

    /**
     * TLS layered on top has sent its close_notify (a TLS socket shuts output down right after it):
     * its last writes were closing alerts, not a request, and the read that follows (JSSE waits up
     * to the read timeout for the peer's answer) may meet a bare FIN, a timeout or a reset without
     * any exchange having failed.
     */
    private boolean tlsClosing() {
        return tls && outputShut;
    }

    /**
     * Whether an exchange on it failed: its close is counted as broken. Under TLS layered on top,
     * also a close that no TLS close came before: a TLS socket closes with a close_notify and then
     * shuts output down, even when it answers the server's close_notify; it closes the socket under
     * it without that only when the TLS connection failed (a handshake refused or cut short, a
     * fatal alert sent or received), or when its client closed the plain socket without it. The
     * handshake then is the exchange that failed, though every read and write of its ciphertext
     * went through: the connection served nothing.
     */
    boolean broken() {
        return broken || tls && !outputShut;
    }

    /**
     * Whether {@code b[off, off + len)} starts with a TLS record holding a ClientHello, checked
     * field by field, since any write may be one: TLS can start after a plain preamble (a JDBC
     * driver's SSL request), and a binary protocol's later request can begin with the same first
     * bytes (a MySQL packet of 790 bytes is {@code 16 03 00}, and a statement id can put 1 at
     * the sixth byte). So: content type handshake (22), record version 3.0 to 3.4, a record
     * length of at most 2^14; message type client_hello (1) whose length is at least that of the
     * smallest ClientHello (41) and fills the record (or runs past it, if fragmented); then its
     * client version, 3.0 to 3.4.
     */
    static boolean startsClientHello(byte[] b, int off, int len) {
        if (len < 11 || b[off] != 22 || b[off + 1] != 3 || (b[off + 2] & 0xff) > 4 || b[off + 5] != 1) {
            return false;
        }
        int record = (b[off + 3] & 0xff) << 8 | (b[off + 4] & 0xff);
        int message = (b[off + 6] & 0xff) << 16 | (b[off + 7] & 0xff) << 8 | (b[off + 8] & 0xff);
        return record <= 1 << 14 && message >= 41 && message >= record - 4
                && b[off + 9] == 3 && (b[off + 10] & 0xff) <= 4;
    }
}
