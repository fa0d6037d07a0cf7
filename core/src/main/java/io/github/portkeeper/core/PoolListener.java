package io.github.portkeeper.core;

import java.time.Duration;

/**
 * Receives the pool's events. Every method has a no-op default, so a listener overrides only
 * what it needs. The Micrometer binding is one listener; tests and users can add their own.
 *
 * <p>Methods are called on the thread that caused the event (often a lease or release on the
 * hot path, or the pool's housekeeping thread): they must be fast, thread-safe and must not
 * throw (an exception is logged and otherwise ignored).
 */
public interface PoolListener {

    /** A new connection was opened in {@code connectNanos}. */
    default void connectionOpened(Endpoint endpoint, long connectNanos) {
    }

    /** Opening a connection failed; the lease that asked for it fails too. */
    default void connectFailed(Endpoint endpoint, Throwable cause) {
    }

    /** A lease was served after waiting {@code waitNanos}; {@code reused} says whether from the idle set. */
    default void leased(Endpoint endpoint, boolean reused, long waitNanos) {
    }

    /** A lease gave up after waiting {@code waitNanos}. */
    default void leaseTimedOut(Endpoint endpoint, long waitNanos) {
    }

    /** A lease was refused without waiting its timeout out (pool closed, interrupted, budget spent). */
    default void leaseRejected(Endpoint endpoint, Throwable reason) {
    }

    /** A lease was given back; {@code reusable} says whether its connection went back to the idle set. */
    default void released(Endpoint endpoint, boolean reusable) {
    }

    /**
     * The pool stopped leasing a connection for {@code reason} and is waiting for it to end by its
     * retirement policy (for example for the peer to close it first).
     */
    default void connectionRetiring(Endpoint endpoint, CloseReason reason) {
    }

    /** A connection was closed; {@code ending} says which side, if any, was left with TIME_WAIT. */
    default void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
    }

    /**
     * The pool forgot {@code endpoint}: it has no connection, no waiter and no recent TIME_WAIT
     * toward it any more. A metrics binding drops the endpoint's meters; a later lease of the
     * endpoint starts afresh (and reports events for it again).
     */
    default void endpointRemoved(Endpoint endpoint) {
    }

    /** A lease has been held longer than the leak detection threshold; {@code leasedAt} shows where it was taken. */
    default void leakSuspected(Endpoint endpoint, Duration heldFor, Throwable leasedAt) {
    }
}
