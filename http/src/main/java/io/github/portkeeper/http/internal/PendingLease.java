package io.github.portkeeper.http.internal;

import io.github.portkeeper.core.LeaseTimeoutException;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.client5.http.io.LeaseRequest;
import org.apache.hc.core5.util.Timeout;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A lease request that can be cancelled from another thread while {@link #get} waits for a
 * connection (HttpClient's {@code HttpUriRequestBase.cancel()} does this): the waiting thread is
 * interrupted, and only while it waits in the pool, so a late cancel never leaves a stray
 * interrupt behind. A cancelled request fails with {@link CancellationException}, as
 * HttpClient's own pool does.
 */
public final class PendingLease implements LeaseRequest {

    /** Takes the connection; blocking, interruptible. */
    @FunctionalInterface
    public interface Leaser {
        ConnectionEndpoint lease(Timeout timeout) throws IOException;
    }

    private static final int NEW = 0;
    private static final int WAITING = 1;
    private static final int CANCELLING = 2;
    private static final int CANCELLED = 3;
    private static final int DONE = 4;

    private final Leaser leaser;
    private final AtomicInteger state = new AtomicInteger(NEW);
    private volatile Thread waiter;
    private final ReentrantLock lock = new ReentrantLock();
    private ConnectionEndpoint endpoint;

    public PendingLease(Leaser leaser) {
        this.leaser = leaser;
    }

    @Override
    public ConnectionEndpoint get(Timeout timeout) throws InterruptedException, ExecutionException, TimeoutException {
        lock.lock();
        try {
            return getLocked(timeout);
        } finally {
            lock.unlock();
        }
    }

    private ConnectionEndpoint getLocked(Timeout timeout) throws InterruptedException, ExecutionException, TimeoutException {
        if (endpoint != null) {
            return endpoint;
        }
        waiter = Thread.currentThread();
        if (!state.compareAndSet(NEW, WAITING)) {
            throw new CancellationException("Lease request cancelled");
        }
        try {
            endpoint = leaser.lease(timeout);
            return endpoint;
        } catch (LeaseTimeoutException e) {
            TimeoutException te = new TimeoutException(e.getMessage());
            te.initCause(e);
            throw te;
        } catch (InterruptedIOException e) {
            if (cancelledWhileWaiting()) {
                throw cancelled(e);
            }
            Thread.currentThread().interrupt();
            InterruptedException ie = new InterruptedException(e.getMessage());
            ie.initCause(e);
            throw ie;
        } catch (IOException e) {
            if (cancelledWhileWaiting()) {
                throw cancelled(e);
            }
            if (e.getCause() instanceof InterruptedIOException) {
                InterruptedException ie = new InterruptedException(e.getMessage());
                ie.initCause(e);
                throw ie;
            }
            throw new ExecutionException(e.getMessage(), e);
        } finally {
            finishWaiting();
            waiter = null;
        }
    }

    /** Leaves WAITING; if a cancel is interrupting this thread, waits for it and clears the interrupt. */
    private void finishWaiting() {
        if (state.compareAndSet(WAITING, DONE)) {
            return;
        }
        while (state.get() == CANCELLING) {
            Thread.onSpinWait();
        }
        Thread.interrupted(); // the cancel's interrupt, not the caller's
    }

    private boolean cancelledWhileWaiting() {
        int s = state.get();
        return s == CANCELLING || s == CANCELLED;
    }

    private static CancellationException cancelled(Exception cause) {
        CancellationException ce = new CancellationException("Lease request cancelled");
        ce.initCause(cause);
        return ce;
    }

    @Override
    public boolean cancel() {
        for (;;) {
            int s = state.get();
            if (s == NEW) {
                if (state.compareAndSet(NEW, CANCELLED)) {
                    return true;
                }
            } else if (s == WAITING) {
                if (state.compareAndSet(WAITING, CANCELLING)) {
                    Thread t = waiter;
                    if (t != null) {
                        t.interrupt();
                    }
                    state.set(CANCELLED);
                    return true;
                }
            } else {
                return false;
            }
        }
    }
}
