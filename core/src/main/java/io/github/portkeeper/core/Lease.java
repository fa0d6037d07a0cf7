package io.github.portkeeper.core;

/**
 * Exclusive use of one pooled connection. Closing the lease gives the connection back to the
 * pool; use it in try-with-resources.
 *
 * <p>A lease is meant for the one thread (or one task) that took it. It is a handle, not the
 * connection's slot: each lease is a new object, and only its first {@link #close()} gives the
 * connection back. A second close, or {@link #abort()}, {@link #markBroken()} or
 * {@link #retire()} after the close, does nothing, so a handle kept too long can never touch
 * the connection of a later holder; {@link #connection()} after the close throws
 * {@link IllegalStateException}.
 *
 * @param <C> the connection type
 */
public interface Lease<C> extends AutoCloseable {

    /**
     * The leased connection.
     *
     * @return the connection, the same one for the whole lease
     * @throws IllegalStateException if the lease was closed
     */
    C connection();

    /**
     * The endpoint the connection belongs to.
     *
     * @return the endpoint it was leased for
     */
    Endpoint endpoint();

    /**
     * Marks the connection broken: when the lease is closed, the connection is discarded and
     * never reused. Call it after an I/O error or when the protocol stream is out of step.
     */
    void markBroken();

    /**
     * Asks the pool to retire the connection when the lease is closed: it is not reused and
     * leaves by the pool's retirement policy (by default, waiting for the peer to close first).
     */
    void retire();

    /**
     * Gives the connection back, when the lease is closed, under {@code endpoint} instead of its
     * own: an endpoint with the same host and port whose qualifier says what the connection has
     * become during this lease (for example the user identity it was authenticated for). From
     * then on only leases of {@code endpoint} get it. If {@code endpoint} is at its
     * {@linkplain Pool#setMaxPerEndpoint(Endpoint, int) limit}, the connection retires instead.
     *
     * @param endpoint the endpoint the connection belongs to from now on
     * @throws IllegalArgumentException if {@code endpoint} has another host or port, naming both
     * @throws NullPointerException     if {@code endpoint} is {@code null}
     */
    void moveTo(Endpoint endpoint);

    /**
     * Whether this is the connection's last use: it is past its lifetime or lease budget and the
     * connector {@linkplain Connector#supportsLastUse() can ask the peer to close} on it. The
     * protocol should do so (HTTP: {@code Connection: close} on this request), so the server
     * closes first; the pool retires the connection when the lease closes.
     *
     * @return {@code true} if the protocol should ask the peer to close on this use
     */
    boolean isLastUse();

    /**
     * Aborts the connection now, from any thread: it is closed at once with RST (SO_LINGER 0),
     * which unblocks a thread stuck reading or writing it, and it ends {@link Ending#RESET}. The
     * lease must still be closed by its holder. For cancelling an exchange in flight; a
     * connection that is merely unwanted should be {@linkplain #retire() retired} instead.
     */
    void abort();

    /**
     * Whether the connection was reused from the pool rather than opened for this lease. A
     * reused connection may have been closed by the server a moment ago; a failure of its first
     * exchange is worth one retry on a {@linkplain Pool#leaseNew new} connection.
     *
     * @return {@code true} if reused, {@code false} if newly opened
     */
    boolean isReused();

    /** Gives the connection back to the pool (or discards it if broken or retiring). */
    @Override
    void close();
}
