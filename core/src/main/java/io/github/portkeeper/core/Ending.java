package io.github.portkeeper.core;

/**
 * How a connection ended, decided at the moment it was closed. The ending says which side of
 * the TCP connection, if any, is left holding a TIME_WAIT socket.
 *
 * <table>
 *   <caption>Endings and their TIME_WAIT cost on this host</caption>
 *   <tr><th>ending</th><th>meaning</th><th>TIME_WAIT on this host</th></tr>
 *   <tr><td>{@link #PEER}</td><td>the peer's FIN arrived before we closed</td><td>none</td></tr>
 *   <tr><td>{@link #LOCAL}</td><td>we sent FIN first</td><td>one, for 60 s</td></tr>
 *   <tr><td>{@link #RESET}</td><td>we closed with RST (SO_LINGER 0)</td><td>none</td></tr>
 *   <tr><td>{@link #FAILED}</td><td>the connection was never established</td><td>none</td></tr>
 *   <tr><td>{@link #ABORTED}</td><td>the peer reset it, or the kernel aborted it (keepalive)</td><td>none</td></tr>
 * </table>
 */
public enum Ending {
    /** The peer closed first; our close was passive (CLOSE_WAIT, LAST_ACK, CLOSED). */
    PEER,
    /** We sent the first FIN: this host keeps a TIME_WAIT socket for 60 s. */
    LOCAL,
    /** We closed with SO_LINGER 0: an RST, no TIME_WAIT anywhere, the peer sees a reset. */
    RESET,
    /** The connection was never established. */
    FAILED,
    /**
     * The connection was reset by the peer, or aborted by this host's kernel (a TCP keepalive or
     * retransmission timeout), before we closed it: no TIME_WAIT anywhere. Not a close by the
     * peer's FIN, so it never teaches the pool a server idle timeout.
     */
    ABORTED;

    /**
     * Whether this ending leaves a TIME_WAIT socket on this host.
     *
     * @return {@code true} only for {@link #LOCAL}
     */
    public boolean createsTimeWait() {
        return this == LOCAL;
    }
}
