package io.github.portkeeper.core;

import java.time.Duration;

/**
 * Receives the pool's events. Every method has a no-op default, so a listener overrides only
 * what it needs. The Micrometer binding is one listener; tests and users can add their own.
 *
 * <p><b>Thread-safety / failures.</b> Methods are called on the thread that caused the event
 * (often a lease or release on the hot path), or, for what housekeeping did, on the idle
 * watcher's worker thread a moment later: they must be fast and thread-safe, and should not
 * throw. Whatever one throws, an {@link Error} included (an {@code AssertionError} in a test
 * listener), is logged (at {@code ERROR} for an Error, {@code WARNING} otherwise) and otherwise
 * ignored: the listeners after it still hear the event, and the pool's own bookkeeping, which
 * events interrupt midway, never depends on a listener returning normally. So an assertion in a
 * listener fails nothing by itself; record what it saw and assert on the test's thread.
 */
public interface PoolListener {

    /**
     * A new connection was opened.
     *
     * @param endpoint     where it goes
     * @param connectNanos how long the connect took, in nanoseconds ({@link System#nanoTime()})
     */
    default void connectionOpened(Endpoint endpoint, long connectNanos) {
    }

    /**
     * Opening a connection failed; the lease that asked for it fails too.
     *
     * @param endpoint where it was to go
     * @param cause    the connector's exception (a connect guard's refusal is reported by
     *                 {@link #leaseRejected} instead)
     */
    default void connectFailed(Endpoint endpoint, Throwable cause) {
    }

    /**
     * A lease was served.
     *
     * @param endpoint  the lease's endpoint
     * @param reused    {@code true} if its connection came from the idle set, {@code false} if it
     *                  was opened for it
     * @param waitNanos how long the lease waited for a connection, in nanoseconds
     */
    default void leased(Endpoint endpoint, boolean reused, long waitNanos) {
    }

    /**
     * A lease gave up: no connection became free, and there was no room to open one, within its
     * timeout.
     *
     * @param endpoint  the lease's endpoint
     * @param waitNanos how long it waited, in nanoseconds
     */
    default void leaseTimedOut(Endpoint endpoint, long waitNanos) {
    }

    /**
     * A lease failed other than by its timeout: the pool was closed, the thread interrupted, the
     * connect failed or a connect guard refused it, validation threw, or the port budget stayed
     * spent for the whole timeout. A failed connect is also reported by {@link #connectFailed}.
     *
     * @param endpoint the lease's endpoint
     * @param reason   the exception the lease failed with
     */
    default void leaseRejected(Endpoint endpoint, Throwable reason) {
    }

    /**
     * A lease was given back.
     *
     * @param endpoint the lease's endpoint
     * @param reusable {@code true} if its connection went back to the idle set, {@code false} if
     *                 it was retired or discarded
     */
    default void released(Endpoint endpoint, boolean reusable) {
    }

    /**
     * The pool stopped leasing a connection for {@code reason} and is waiting for it to end by its
     * retirement policy (for example for the peer to close it first).
     *
     * @param endpoint the connection's endpoint
     * @param reason   why the pool gave it up
     */
    default void connectionRetiring(Endpoint endpoint, CloseReason reason) {
    }

    /**
     * A connection was closed.
     *
     * @param endpoint the connection's endpoint
     * @param ending   how it ended: which side, if any, was left with TIME_WAIT
     * @param reason   why it was closed
     */
    default void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
    }

    /**
     * The pool forgot {@code endpoint}: it has no connection, no waiter, no recent TIME_WAIT and
     * no limit of its own toward it any more. Heard a moment after the pool forgot it (off the
     * watcher's thread); a lease since then may have brought it back. A metrics binding drops the endpoint's meters; a later lease of the
     * endpoint starts afresh (and reports events for it again).
     *
     * @param endpoint the endpoint forgotten
     */
    default void endpointRemoved(Endpoint endpoint) {
    }

    /**
     * A lease has been held longer than the leak detection threshold. Reported once per lease.
     *
     * @param endpoint the lease's endpoint
     * @param heldFor  how long it had been held when the check ran
     * @param leasedAt a throwable whose stack trace shows where the lease was taken
     */
    default void leakSuspected(Endpoint endpoint, Duration heldFor, Throwable leasedAt) {
    }
}
