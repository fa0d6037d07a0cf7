package io.github.portkeeper.rpc.internal;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Spare request buffers of one client, so that a call encodes its request without allocating a
 * buffer. A request is encoded before a connection is leased (a request that cannot be encoded
 * must cost no lease), so the buffer cannot belong to the connection.
 *
 * <p>A few slots per client, picked by thread, rather than a {@code ThreadLocal}: a buffer per
 * thread of a long-lived thread pool would outlive the client, and nothing here needs more than
 * one buffer per concurrent call to be cheap. A taken buffer belongs to its call alone; a slot
 * found empty means a new (small) buffer. Thread-safe.
 */
final class RequestBuffers {

    private static final int MAX_SLOTS = 64;

    private final AtomicReferenceArray<RequestBuffer> spares;
    private final int mask;

    RequestBuffers() {
        int slots = Math.min(MAX_SLOTS, Integer.highestOneBit(Math.max(1, Runtime.getRuntime().availableProcessors()) * 4 - 1));
        this.spares = new AtomicReferenceArray<>(slots);
        this.mask = slots - 1;
    }

    /** A buffer for one call's request: a spare if this thread's slot holds one, else a new one. */
    RequestBuffer take() {
        RequestBuffer spare = spares.getAndSet(slot(), null);
        return spare != null ? spare : new RequestBuffer();
    }

    /** Takes the buffer back once its call is over, shrunk if a large request left it large. */
    void giveBack(RequestBuffer buffer) {
        buffer.reset();
        spares.set(slot(), buffer);
    }

    private int slot() {
        return (int) Thread.currentThread().getId() & mask;
    }
}
