package io.github.portkeeper.core.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * What an idle connection's socket had to say: the one classifier used by the idle watcher, by a
 * leaser taking back a watched connection and by the lease path's readiness check, so they can
 * never disagree.
 *
 * <p>An idle connection owes us nothing, so anything at all that arrived means it must not be
 * leased: {@link #classify} consumes what it reads, and is only called by the entry's owner.
 */
enum IdleRead {
    /** Nothing arrived: the connection may be leased. */
    NOTHING,
    /**
     * The peer's FIN (possibly after bytes, which were discarded): the peer closed, our close is
     * passive. A TLS server's close_notify followed by its FIN is this too.
     */
    FIN,
    /**
     * TLS records ending in one that can be a close_notify, and no FIN yet: the peer is closing;
     * await its FIN.
     */
    TLS_CLOSE_NOTICE,
    /**
     * Bytes nobody asked for and no FIN yet: the stream is out of step; never lease it, await the
     * peer's FIN. TLS records that cannot be a close notice (a TLS 1.3 KeyUpdate or a late
     * NewSessionTicket) are this too: the peer is not closing.
     */
    BYTES,
    /** More unread bytes than we drain: closing now would be a reset anyway. */
    FLOOD,
    /**
     * The read failed: the peer reset the connection, or this host's kernel aborted it (a TCP
     * keepalive or retransmission timeout). An abort, never the server's idle close.
     */
    ABORT;

    /**
     * Each thread's buffer for the first read: the lease path classifies on every reuse, and
     * nearly always reads nothing, so it should not allocate.
     */
    private static final ThreadLocal<ByteBuffer> HEAD = ThreadLocal.withInitial(() -> ByteBuffer.allocate(512));

    /** Bytes discarded at most while looking for a FIN behind unexpected bytes. */
    static final int DRAIN_LIMIT = 64 * 1024;

    /**
     * Reads, without blocking, what arrived on an idle connection's channel, which must be in
     * non-blocking mode and owned by the caller. Consumes what it reads.
     */
    static IdleRead classify(SocketChannel channel) {
        ByteBuffer head = HEAD.get().clear();
        int n;
        try {
            n = channel.read(head);
        } catch (IOException e) {
            return ABORT;
        }
        if (n < 0) {
            return FIN;
        }
        if (n == 0) {
            return NOTHING;
        }
        boolean closeNotice = looksLikeTlsCloseNotice(head, n);
        switch (discardUntilFin(channel, n)) {
            case 1:
                return FIN;
            case -1:
                return FLOOD;
            case -2:
                return ABORT;
            default:
                return closeNotice ? TLS_CLOSE_NOTICE : BYTES;
        }
    }

    /**
     * Reads and discards what else is queued. Returns 1 if the FIN came, 0 if nothing more is
     * there yet, -1 past the drain limit, -2 if the read failed (a reset).
     */
    static int discardUntilFin(SocketChannel channel, int alreadyRead) {
        ByteBuffer scratch = ByteBuffer.allocate(2048);
        int drained = alreadyRead;
        try {
            for (;;) {
                scratch.clear();
                int n = channel.read(scratch);
                if (n < 0) {
                    return 1;
                }
                if (n == 0) {
                    return 0;
                }
                drained += n;
                if (drained >= DRAIN_LIMIT) {
                    return -1;
                }
            }
        } catch (IOException e) {
            return -2;
        }
    }

    /**
     * The length of a TLS 1.3 record carrying one alert and no padding: the alert's 2 bytes, the
     * inner content type's 1 and a 16-byte AEAD tag (every TLS 1.3 cipher suite but the CCM_8
     * one, which no major implementation enables). OpenSSL, BoringSSL, Go and rustls send their
     * close_notify so.
     */
    static final int TLS13_ALERT_LENGTH = 2 + 1 + 16;
    /**
     * The same padded with 16 zero bytes, as the JDK's JSSE pads every TLS 1.3 record (its
     * KeyUpdate, so padded, is 38 bytes long).
     */
    static final int TLS13_JSSE_ALERT_LENGTH = TLS13_ALERT_LENGTH + 16;

    /**
     * Whether the bytes read are TLS records ending in one that can be a close_notify. Each
     * header says alert (21) or application data (23, which is how TLS 1.3 wraps everything after
     * the handshake), version 3.x, and its length; the last record may continue beyond what was
     * read. The last one must be an alert: of type 21 (TLS 1.2 and earlier), or of type 23 and an
     * encrypted alert's length (TLS 1.3). A TLS 1.3 server also sends a KeyUpdate or a late
     * NewSessionTicket as type 23, on a connection it is not closing: taken for its close, such a
     * record taught the pool a server idle timeout as short as the record's idle age.
     */
    static boolean looksLikeTlsCloseNotice(ByteBuffer head, int n) {
        int offset = 0;
        boolean alert = false;
        while (offset < n) {
            if (offset + 5 > n) {
                return false;
            }
            int type = head.get(offset) & 0xff;
            int major = head.get(offset + 1) & 0xff;
            int length = ((head.get(offset + 3) & 0xff) << 8) | (head.get(offset + 4) & 0xff);
            if ((type != 0x15 && type != 0x17) || major != 0x03 || length == 0 || length > 16_384 + 2048) {
                return false;
            }
            alert = type == 0x15 || length == TLS13_ALERT_LENGTH || length == TLS13_JSSE_ALERT_LENGTH;
            offset += 5 + length;
        }
        return alert;
    }
}
