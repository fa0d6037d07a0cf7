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
    /** TLS records (a close_notify, or TLS 1.3 records) and no FIN yet: the peer is closing; await its FIN. */
    TLS_RECORDS,
    /** Bytes nobody asked for and no FIN yet: the stream is out of step; never lease it, await the peer's FIN. */
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
        boolean tls = looksLikeTlsRecords(head, n);
        switch (discardUntilFin(channel, n)) {
            case 1:
                return FIN;
            case -1:
                return FLOOD;
            case -2:
                return ABORT;
            default:
                return tls ? TLS_RECORDS : BYTES;
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
     * Whether the bytes read are TLS records: each header says alert (21) or application data
     * (23, which is how TLS 1.3 wraps its alerts), version 3.x, and its length; the last record
     * may continue beyond what was read.
     */
    static boolean looksLikeTlsRecords(ByteBuffer head, int n) {
        int offset = 0;
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
            offset += 5 + length;
        }
        return true;
    }
}
