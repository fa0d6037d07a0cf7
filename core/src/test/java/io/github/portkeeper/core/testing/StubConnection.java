package io.github.portkeeper.core.testing;

import io.github.portkeeper.core.Endpoint;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/** A connection with no I/O, which records who holds it so tests can catch double leases. */
public final class StubConnection {

    public final int id;
    public final Endpoint endpoint;
    public final AtomicBoolean disposed = new AtomicBoolean();
    public final AtomicInteger holders = new AtomicInteger();

    StubConnection(int id, Endpoint endpoint) {
        this.id = id;
        this.endpoint = endpoint;
    }

    @Override
    public String toString() {
        return "stub#" + id + "@" + endpoint;
    }
}
