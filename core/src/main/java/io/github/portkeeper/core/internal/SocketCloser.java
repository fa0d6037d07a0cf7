package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Ending;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * Closes sockets and says how each ended. This is the only code that closes a pooled socket.
 *
 * <p>Classification looks for the peer's FIN without blocking: a non-blocking read that returns
 * -1 means the FIN has arrived, so our close is passive (CLOSE_WAIT → LAST_ACK) and leaves no
 * TIME_WAIT here ({@link Ending#PEER}). Reading is safe because the connection is being closed:
 * no protocol will want those bytes. Unread bytes left in the receive queue would make the
 * kernel answer our close with RST instead of FIN, so a bounded amount is drained first; if more
 * remains the close is recorded as {@link Ending#RESET}, which is what the kernel does.
 *
 * <p>Simultaneous close: if the peer's FIN is in flight while we check, we record
 * {@link Ending#LOCAL}; the FINs cross, both sides pass through CLOSING and both keep a
 * TIME_WAIT, so LOCAL is what the kernel shows too. If the FIN lands in the microseconds between
 * our check and our close, the kernel takes the passive path and we have over-counted one
 * TIME_WAIT: the count errs toward caution, never toward hiding one.
 */
public final class SocketCloser {

    /** Bytes drained at most before giving up on a clean FIN. */
    private static final int DRAIN_LIMIT = 64 * 1024;

    private SocketCloser() {
    }

    /**
     * Whether the peer's FIN has arrived. Drains and discards pending bytes (bounded), so only
     * call it on a connection that will be closed. The channel must not be registered with a
     * selector.
     *
     * @return 1 if the FIN arrived, 0 if not, -1 if unread bytes beyond the drain limit remain
     */
    static int peerFinArrived(SocketChannel channel) {
        try {
            if (!channel.isOpen() || !channel.isConnected()) {
                return 0;
            }
            if (channel.isBlocking()) {
                channel.configureBlocking(false);
            }
            ByteBuffer scratch = ByteBuffer.allocate(2048);
            int drained = 0;
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
            // A reset by the peer or a dead socket: there is nothing left to close cleanly.
            return 1;
        }
    }

    /**
     * Closes {@code channel}: passively if the peer's FIN has arrived, else with RST when
     * {@code reset}, else with FIN. Returns the ending that happened.
     */
    public static Ending close(SocketChannel channel, boolean reset) {
        if (channel == null) {
            return Ending.LOCAL;
        }
        if (!channel.isConnected()) {
            closeQuietly(channel);
            return Ending.FAILED;
        }
        java.net.Socket socket = channel.socket();
        if (socket.isOutputShutdown()) {
            // Our FIN already went out (shutdownOutput): we were the active closer.
            closeQuietly(channel);
            return Ending.LOCAL;
        }
        if (socket.isInputShutdown()) {
            // After SHUT_RD reads report end of stream whatever the peer did: no proof of its FIN.
            if (reset) {
                setLingerZero(channel);
            }
            closeQuietly(channel);
            return reset ? Ending.RESET : Ending.LOCAL;
        }
        int fin = peerFinArrived(channel);
        Ending ending;
        if (fin > 0) {
            ending = Ending.PEER;
        } else if (reset || fin < 0) {
            setLingerZero(channel);
            ending = Ending.RESET;
        } else {
            ending = Ending.LOCAL;
        }
        closeQuietly(channel);
        return ending;
    }

    static final int HEAD_NOTHING = 0;
    static final int HEAD_FIN = 1;
    static final int HEAD_BYTES = 2;
    static final int HEAD_TLS_RECORD = 3;

    /**
     * Reads what arrived on an idle, non-blocking channel, consuming it (so only where the
     * connection is not to be used if anything arrived): nothing, the FIN, or bytes — and whether those bytes are TLS records, which is how
     * a TLS server's close_notify looks on the wire.
     */
    static int readIdleHead(SocketChannel channel) {
        ByteBuffer head = ByteBuffer.allocate(512);
        try {
            int n = channel.read(head);
            if (n < 0) {
                return HEAD_FIN;
            }
            if (n == 0) {
                return HEAD_NOTHING;
            }
            if (looksLikeTlsRecords(head, n)) {
                return HEAD_TLS_RECORD;
            }
            return HEAD_BYTES;
        } catch (IOException e) {
            return HEAD_FIN;
        }
    }

    /**
     * Whether the bytes read are TLS records: each header says alert (21) or application data
     * (23, which is how TLS 1.3 wraps its alerts), version 3.x, and its length; the last record
     * may continue beyond what was read.
     */
    private static boolean looksLikeTlsRecords(ByteBuffer head, int n) {
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

    /** Closes with RST at once, without looking for a FIN: for aborting an exchange in flight. */
    static void abort(SocketChannel channel) {
        if (channel != null && channel.isOpen()) {
            setLingerZero(channel);
            closeQuietly(channel);
        }
    }

    private static void setLingerZero(SocketChannel channel) {
        try {
            channel.setOption(StandardSocketOptions.SO_LINGER, 0);
        } catch (IOException | RuntimeException ignored) {
            // Already closed by a racing failure; the close below is all that is left to do.
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // Nothing to do: the descriptor is released either way.
        }
    }
}
