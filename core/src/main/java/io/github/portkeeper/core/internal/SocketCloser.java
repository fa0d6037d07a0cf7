package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.TcpState;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

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
 * <p>Simultaneous close: a FIN can land between our check and our close, and then the kernel
 * takes the passive path although we checked first. So a graceful close sends our FIN on its own
 * ({@code shutdownOutput}) and looks again: nothing from the peer yet means ours was first
 * ({@link Ending#LOCAL}); its FIN there now came either just before ours (passive, no TIME_WAIT)
 * or after it (TIME_WAIT here, through CLOSING when the FINs crossed on the wire), and for that
 * rare case the kernel's table, which shows the connection as CLOSING or TIME_WAIT only in the
 * second case, decides. Where the table cannot be read the close counts as LOCAL: the count errs
 * toward a TIME_WAIT, never toward hiding one.
 *
 * <p>Pooled sockets are held with SO_LINGER 0 while open ({@link #holdForAbort}), so a close the
 * pool does not make (the JDK closes a blocking channel whose thread is interrupted) is an RST
 * and leaves no TIME_WAIT, whether or not the peer's reply is still to come. The pool's own
 * graceful closes turn lingering back off first, so they send FIN (or close passively) as the
 * ending says.
 *
 * <p>A socket whose input was shut down ({@code shutdownInput()}) cannot be read, so the kernel's
 * table tells what a read would: the peer's FIN (CLOSE_WAIT), the peer's reset (no row: the
 * kernel dropped the connection), and bytes left unread, which make the kernel reset our close.
 *
 * <p>The table is searched for the connection's whole 4-tuple, local address included: a socket
 * on the same local port of another local address (127.0.0.2 and 127.0.0.3 both reach a loopback
 * server) is another connection, and its row says nothing of ours.
 */
public final class SocketCloser {

    /**
     * The kernel's tables this class reads ({@code /proc/net/tcp} and {@code tcp6}): a seam for
     * tests, which point it at a table that misses a live connection's row, as a read racing
     * churn can.
     */
    static volatile Path[] tables = {ProcNetTcpParser.PROC_NET_TCP, ProcNetTcpParser.PROC_NET_TCP6};

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
     * {@code reset}, else with FIN. Returns the ending that happened. A channel whose output was
     * already shut down sent its FIN: its ending is named by whose FIN came first, and it is not
     * reset then unless its input was shut down too (where {@code reset} still applies while our
     * FIN waits for the peer's).
     */
    public static Ending close(SocketChannel channel, boolean reset) {
        return close(channel, reset, NOTHING, NOTHING);
    }

    private static final Runnable NOTHING = () -> { };

    /**
     * {@link #close(SocketChannel, boolean)} with two points where a test makes the peer's FIN
     * land: right after the check for it, and right after our own FIN.
     */
    static Ending close(SocketChannel channel, boolean reset, Runnable afterFinCheck, Runnable afterOurFin) {
        if (channel == null) {
            return Ending.LOCAL;
        }
        if (!channel.isConnected()) {
            closeQuietly(channel);
            return Ending.FAILED;
        }
        // Lingering off whatever was asked: a socket held for abort would send RST on every path,
        // also on those that end PEER (the peer's FIN came) or LOCAL (our FIN already went out).
        // Only the RESET paths below set SO_LINGER 0, just before their close.
        setLinger(channel, -1);
        java.net.Socket socket = channel.socket();
        if (socket.isInputShutdown()) {
            return closeAfterInputShutdown(channel, reset);
        }
        if (!socket.isOutputShutdown()) {
            int fin = peerFinArrived(channel);
            afterFinCheck.run();
            if (fin > 0) {
                closeQuietly(channel);
                return Ending.PEER;
            }
            if (fin == -2) {
                closeQuietly(channel);
                return Ending.ABORTED; // reset by the peer: nothing left to close cleanly
            }
            if (reset || fin < 0) {
                setLingerZero(channel);
                closeQuietly(channel);
                return Ending.RESET;
            }
            // Our FIN goes out on its own first, so that whose FIN came first can be told.
            if (!shutdownOutput(channel)) {
                closeQuietly(channel);
                return Ending.LOCAL; // it died under us: count the TIME_WAIT it may have left
            }
            afterOurFin.run();
        }
        return closeAfterOurFin(channel);
    }

    /**
     * Closes a channel whose FIN went out, naming the ending by whose FIN came first. Nothing from
     * the peer yet: ours was first, LOCAL. Its FIN here now: it came before ours (passive close,
     * no TIME_WAIT here) or after it (TIME_WAIT here); the kernel's table tells which, since
     * only then does this connection show as CLOSING or TIME_WAIT. That read of
     * {@code /proc/net/tcp} happens only for FINs that cross within microseconds; where the
     * table cannot be read, LOCAL: the count errs toward the TIME_WAIT, never away from it.
     */
    private static Ending closeAfterOurFin(SocketChannel channel) {
        int fin = peerFinArrived(channel);
        Ending ending;
        if (fin == 0) {
            ending = Ending.LOCAL;
        } else if (fin == -2) {
            ending = Ending.ABORTED;
        } else if (fin < 0) {
            setLingerZero(channel); // unread bytes: the kernel resets, and so do we
            ending = Ending.RESET;
        } else {
            ending = ourFinCameFirst(channel) ? Ending.LOCAL : Ending.PEER;
        }
        closeQuietly(channel);
        return ending;
    }

    /** Whether the kernel shows this connection, both FINs seen, as the active closer's. */
    private static boolean ourFinCameFirst(SocketChannel channel) {
        KernelRow row = KernelRow.of(channel);
        // Passive, it is LAST_ACK or already gone; active, CLOSING until our FIN is acknowledged,
        // then TIME_WAIT. Unreadable: true, toward the TIME_WAIT.
        return !row.readable() || row.ourFinWentFirst();
    }

    /**
     * Closes a channel whose input was shut down. After SHUT_RD reads report end of stream
     * whatever the peer did, so neither the peer's FIN nor bytes left unread can be seen from a
     * read; the kernel's table ({@code /proc/net/tcp}, read only on this path) shows both.
     *
     * <ul>
     *   <li>The peer closed first and our close is passive (or an RST: no TIME_WAIT either): PEER.
     *       With our output open the connection is in CLOSE_WAIT; with our output shut too, our
     *       FIN went second: LAST_ACK until the peer acknowledges it, then no row at all.
     *   <li>Our output open and no row at all: the kernel dropped the connection before our
     *       close, as it does at once on the peer's RST (or its own abort); the close sends
     *       nothing: ABORTED.
     *   <li>Wherever no row is taken to mean the connection is gone, the close is made with
     *       SO_LINGER 0: a read that missed a live row (the table is read page by page) then
     *       resets the connection rather than leave a TIME_WAIT the ending denies.
     *   <li>Bytes in the receive queue, which SHUT_RD keeps: the kernel answers our close with RST
     *       whatever we ask: RESET.
     *   <li>Our FIN went first and the peer's came back (TIME_WAIT): the kernel keeps the TIME_WAIT
     *       whatever we ask (an RST is no longer possible): LOCAL.
     *   <li>Otherwise (output open, or our FIN still waiting in FIN_WAIT1, FIN_WAIT2 or CLOSING):
     *       as asked, RST or FIN.
     * </ul>
     * Where the table cannot be read, as asked too: the count errs toward a TIME_WAIT, never away
     * from it.
     */
    private static Ending closeAfterInputShutdown(SocketChannel channel, boolean reset) {
        KernelRow row = KernelRow.of(channel);
        if (row.readable()) {
            boolean outputShut = channel.socket().isOutputShutdown();
            // No row proves the kernel dropped the connection only if the read was complete: the
            // table is read page by page, and a live row can slip between pages under churn. So a
            // close on that word alone is an RST: for a connection truly gone it sends nothing; for
            // one the read missed, it ends it without the TIME_WAIT the ending says is not there.
            if (outputShut ? row.peerFinWentFirstAndOursFollowed() : row.is(TcpState.CLOSE_WAIT)) {
                if (row.notListed()) {
                    setLingerZero(channel);
                }
                closeQuietly(channel);
                return Ending.PEER;
            }
            if (!outputShut && row.notListed()) {
                setLingerZero(channel); // reset by the peer: nothing left to close, or the row was missed
                closeQuietly(channel);
                return Ending.ABORTED;
            }
            if (row.unreadBytes() > 0) {
                setLingerZero(channel); // the kernel resets, and so do we
                closeQuietly(channel);
                return Ending.RESET;
            }
            if (row.is(TcpState.TIME_WAIT)) {
                closeQuietly(channel);
                return Ending.LOCAL;
            }
        }
        if (reset) {
            setLingerZero(channel);
        }
        closeQuietly(channel);
        return reset ? Ending.RESET : Ending.LOCAL;
    }

    /**
     * A connection's row in the kernel's table, found by its whole 4-tuple: its state code (0 if
     * the table does not list it) and its unread bytes.
     */
    private record KernelRow(boolean readable, int state, int unreadBytes) {

        private static final KernelRow UNREADABLE = new KernelRow(false, 0, 0);
        private static final int NOT_LISTED = 0; // state codes start at 1

        /** Reads this process's network namespace's table for {@code channel}'s connection. */
        static KernelRow of(SocketChannel channel) {
            try {
                InetSocketAddress local = (InetSocketAddress) channel.getLocalAddress();
                InetSocketAddress remote = (InetSocketAddress) channel.getRemoteAddress();
                if (local == null || remote == null) {
                    return UNREADABLE;
                }
                Path[] paths = tables;
                ProcNetTcpParser.Sockets table = ProcNetTcpParser.read(paths[0], paths[1]);
                if (table == null) {
                    return UNREADABLE;
                }
                int entry = table.entry(local, remote);
                if (entry < 0) {
                    return new KernelRow(true, NOT_LISTED, 0);
                }
                return new KernelRow(true, table.stateAt(entry), Math.max(0, table.unreadBytesAt(entry)));
            } catch (IOException | RuntimeException e) {
                return UNREADABLE;
            }
        }

        boolean is(TcpState wanted) {
            return state == wanted.code();
        }

        /** The table does not list the connection: it is gone from the kernel's table. */
        boolean notListed() {
            return state == NOT_LISTED;
        }

        /** Both FINs seen, ours first: CLOSING until ours is acknowledged, then TIME_WAIT. */
        boolean ourFinWentFirst() {
            return is(TcpState.TIME_WAIT) || is(TcpState.CLOSING);
        }

        /** Both FINs sent, the peer's first: LAST_ACK until ours is acknowledged, then gone. */
        boolean peerFinWentFirstAndOursFollowed() {
            return is(TcpState.LAST_ACK) || notListed();
        }
    }

    private static boolean shutdownOutput(SocketChannel channel) {
        try {
            channel.shutdownOutput();
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
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
