package io.github.portkeeper.core.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * A lease waiting in an endpoint's FIFO queue. A dispatcher fulfils it with either a connection
 * (hand-off) or a permit to open one; the waiter itself may cancel (timeout, interrupt). Exactly
 * one of those wins, by CAS out of WAITING, so a connection is never handed to a waiter that has
 * gone, and a waiter that has gone never gets one.
 */
final class Waiter<C> {

    static final int WAITING = 0;
    static final int FULFILLING = 1;
    static final int ENTRY = 2;
    static final int PERMIT = 3;
    static final int CANCELLED = 4;
    static final int POOL_CLOSED = 5;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Waiter.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final Thread thread;
    /** Wants a new connection ({@code leaseNew}): is only ever given a permit. */
    final boolean fresh;
    private volatile int state = WAITING;
    private PooledEntry<C> entry;

    Waiter(Thread thread, boolean fresh) {
        this.thread = thread;
        this.fresh = fresh;
    }

    boolean isWaiting() {
        return state == WAITING;
    }

    /** Hands {@code e} (already claimed by the caller) to this waiter; false if it no longer waits. */
    boolean offerEntry(PooledEntry<C> e) {
        if (!STATE.compareAndSet(this, WAITING, FULFILLING)) {
            return false;
        }
        entry = e;
        state = ENTRY;
        LockSupport.unpark(thread);
        return true;
    }

    /** Gives this waiter a reserved slot to open a connection in; false if it no longer waits. */
    boolean offerPermit() {
        return complete(PERMIT);
    }

    /** Fails this waiter because the pool closed; false if it no longer waits. */
    boolean offerPoolClosed() {
        return complete(POOL_CLOSED);
    }

    /** Withdraws this waiter; false if it was fulfilled first (then {@link #awaitOutcome()} says with what). */
    boolean cancel() {
        return STATE.compareAndSet(this, WAITING, CANCELLED);
    }

    private boolean complete(int outcome) {
        if (!STATE.compareAndSet(this, WAITING, outcome)) {
            return false;
        }
        LockSupport.unpark(thread);
        return true;
    }

    /** The outcome once fulfilled; spins through the brief FULFILLING step. */
    int awaitOutcome() {
        int s;
        while ((s = state) == FULFILLING) {
            Thread.onSpinWait();
        }
        return s;
    }

    int state() {
        return state;
    }

    PooledEntry<C> entry() {
        return entry;
    }
}
