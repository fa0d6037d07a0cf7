package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Ending;

import java.io.IOException;
import java.net.StandardSocketOptions;
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
 *
 * <p>Pooled sockets are held with SO_LINGER 0 while open ({@link #holdForAbort}), so a close the
 * pool does not make (the JDK closes a blocking channel whose thread is interrupted) is an RST
 * and leaves no TIME_WAIT, whether or not the peer's reply is still to come. The pool's own
 * graceful closes turn lingering back off first, so they send FIN (or close passively) as the
 * ending says.
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
     * @return 1 if the FIN arrived, 0 if not, -1 if unread bytes beyond the drain limit remain,
     *         -2 if the read failed (reset by the peer, or aborted by the kernel)
     */
    static int peerFinArrived(SocketChannel channel) {
        try {
            if (!channel.isOpen() || !channel.isConnected()) {
                return 0;
            }
            if (channel.isBlocking()) {
                channel.configureBlocking(false);
            }
        } catch (IOException e) {
            return -2;
        }
        return IdleRead.discardUntilFin(channel, 0);
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
        if (!reset) {
            setLinger(channel, -1); // a graceful close: FIN, not the RST a socket held for abort would send
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
        } else if (fin == -2) {
            ending = Ending.ABORTED; // reset by the peer: nothing left to close cleanly
        } else if (reset || fin < 0) {
            setLingerZero(channel);
            ending = Ending.RESET;
        } else {
            ending = Ending.LOCAL;
        }
        closeQuietly(channel);
        return ending;
    }

    /** Closes a channel the peer reset (or the kernel aborted): there is no FIN or RST left to send. */
    static void closeAborted(SocketChannel channel) {
        if (channel != null) {
            closeQuietly(channel);
        }
    }

    /** Closes with RST at once, without looking for a FIN: for aborting an exchange in flight. */
    static void abort(SocketChannel channel) {
        if (channel != null && channel.isOpen()) {
            setLingerZero(channel);
            closeQuietly(channel);
        }
    }

    /**
     * Sets SO_LINGER 0 on an open pooled socket, so that any close not made through
     * {@link #close} (an interrupt, the JDK closing the channel) resets it rather than leaving a
     * TIME_WAIT the pool cannot see. Returns whether it was set.
     */
    static boolean holdForAbort(SocketChannel channel) {
        return setLinger(channel, 0);
    }

    private static void setLingerZero(SocketChannel channel) {
        setLinger(channel, 0);
    }

    private static boolean setLinger(SocketChannel channel, int seconds) {
        try {
            channel.setOption(StandardSocketOptions.SO_LINGER, seconds);
            return true;
        } catch (IOException | RuntimeException ignored) {
            // Already closed by a racing failure; the close that follows is all that is left to do.
            return false;
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
