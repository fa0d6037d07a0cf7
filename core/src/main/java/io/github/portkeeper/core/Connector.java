package io.github.portkeeper.core;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/**
 * Opens connections for a {@link Pool} and tells the pool what it needs to know about them.
 * The pool calls {@link #connect} outside any lock, so a slow connect never blocks other leases.
 *
 * <p>Implementations must be safe for concurrent use by several threads.
 *
 * @param <C> the connection type
 */
public interface Connector<C> {

    /**
     * Opens a new connection to {@code endpoint}. Throwing releases the slot the pool reserved
     * for it; the lease fails with a {@link ConnectFailedException} naming the endpoint.
     *
     * <p>The pool sets SO_LINGER 0 on the socket it gets (see {@link #channel}), so that a close
     * it does not make itself, such as the JDK closing a channel whose thread was interrupted,
     * is a reset and leaves no TIME_WAIT it cannot count. A connector that does blocking I/O
     * after the TCP handshake (a greeting, a login) should set SO_LINGER 0 before connecting,
     * for the same reason: an interrupt there comes before the pool has the socket.
     *
     * @param endpoint where to connect
     * @return the connected connection, never {@code null}
     * @throws IOException if the connection could not be opened
     */
    C connect(Endpoint endpoint) throws IOException;

    /**
     * The socket under {@code connection}, or {@code null} if there is none (stub connections
     * in tests and benchmarks). With a socket the pool can watch the idle connection by
     * readiness, decide how it ended and close it the way the retirement policy says; without
     * one it can only {@linkplain #dispose dispose} of it, and records the ending
     * {@link #endingWithoutChannel} names. The channel may be blocking or non-blocking; the pool gives it back
     * to a holder in the mode it had when the connection became idle.
     *
     * <p>Should not throw. If it throws right after a connect, the pool cannot see the socket: it
     * ends the fresh connection as one without a socket, by {@link #dispose} and with the ending
     * {@link #endingWithoutChannel} names (the cautious {@link Ending#LOCAL} if that throws too),
     * records it closed {@link CloseReason#BROKEN} having served no lease, and fails the lease with
     * the exception unchanged; the connect guard hears the connect abandoned.
     *
     * @param connection a connection this connector opened
     * @return its socket channel (the same one every time), or {@code null}
     */
    default SocketChannel channel(C connection) {
        return null;
    }

    /**
     * Whether a connection without a socket ever reached its peer. Consulted only when
     * {@link #channel} returns {@code null} at close: a connection that never did ends
     * {@link Ending#FAILED}; otherwise the pool, unable to see how it closed, records the
     * cautious {@link Ending#LOCAL}. Default {@code true}.
     *
     * <p>Should not throw. If it does, the pool records the cautious {@link Ending#LOCAL}, still
     * gives back the connection's slot and port, reports its close and disposes of it, and logs
     * the exception (a close may run on the idle watcher's thread or in the pool's close, which
     * must not stop halfway).
     *
     * @param connection a connection without a socket
     * @return {@code true} if it reached its peer
     */
    default boolean wasEstablished(C connection) {
        return true;
    }

    /**
     * How an established connection without a socket (see {@link #channel}) ends: the pool
     * records this, then {@linkplain #dispose disposes} of it. Override it where the connector
     * knows, e.g. because {@code dispose} resets the connection, or it is not TCP at all (a Unix
     * domain socket leaves no TIME_WAIT anywhere). The default is the cautious
     * {@link Ending#LOCAL}: unable to see how it closed, the pool counts the TIME_WAIT it may
     * have left, so {@code timewait.caused} may run over the kernel's count but never under it.
     *
     * <p>Should not throw; if it does, the pool records {@link Ending#LOCAL}, as for
     * {@link #wasEstablished}.
     *
     * @param connection an established connection without a socket
     * @return the ending to record; not {@link Ending#FAILED}, which {@link #wasEstablished} decides
     */
    default Ending endingWithoutChannel(C connection) {
        return Ending.LOCAL;
    }

    /**
     * Checks a connection taken from the idle set before it is leased (the validation hook).
     * Returning {@code false} retires it by the pool's {@link Retirement} policy and the pool
     * tries another. Keep it cheap: it runs on every reuse. The default accepts every connection.
     *
     * @param connection an idle connection about to be leased
     * @return {@code true} to lease it, {@code false} to retire it
     */
    default boolean validate(C connection) {
        return true;
    }

    /**
     * Asks the peer to close the connection at the protocol level (HTTP {@code Connection: close}
     * on a last request, Redis {@code QUIT}), for {@link Retirement.Policy#REQUEST_PEER_CLOSE}.
     * Called on an idle connection, on the thread that retires it (often the one closing its
     * last lease), never on the idle watcher's thread; returns {@code false} if the protocol has no
     * goodbye (the pool then just awaits the peer's FIN). Any response bytes the goodbye provokes
     * are drained and discarded by the pool. The default has none.
     *
     * @param connection the idle connection to retire
     * @return {@code true} if the goodbye was sent, {@code false} if the protocol has none
     * @throws IOException if sending it failed; the pool then ends the connection by the
     *         retirement's fallback
     */
    default boolean requestPeerClose(C connection) throws IOException {
        return false;
    }

    /**
     * Whether the protocol can ask the peer to close on a connection's last use (HTTP's
     * {@code Connection: close} on a request). If so, a connection past its lifetime or lease
     * budget is leased once more with {@link Lease#isLastUse()} set, if a lease comes for it within
     * about a second; otherwise it is retired while idle. Default {@code false}.
     *
     * @return {@code true} if leases may be marked as a connection's last use
     */
    default boolean supportsLastUse() {
        return false;
    }

    /**
     * Releases what the connection holds besides its socket (buffers, codec state). Called
     * exactly once per connection, after its socket, if any, has been closed by the pool. What it
     * throws (an {@link Error} included) is logged and ignored: the connection is closed and
     * counted all the same, and a pool's close goes on to its other connections.
     *
     * @param connection the closed connection
     */
    default void dispose(C connection) {
    }
}
