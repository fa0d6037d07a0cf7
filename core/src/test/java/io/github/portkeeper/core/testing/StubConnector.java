package io.github.portkeeper.core.testing;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;

import java.io.IOException;
import java.net.ConnectException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Predicate;

/** Opens {@link StubConnection}s without I/O; can be told to fail or reject validation. */
public class StubConnector implements Connector<StubConnection> {

    private final AtomicInteger ids = new AtomicInteger();
    public final List<StubConnection> opened = new CopyOnWriteArrayList<>();
    public volatile boolean failConnects;
    public volatile Predicate<StubConnection> validator = c -> true;
    /** Runs at each dispose, while the pool is closing the connection: a test's look from inside the close path. */
    public volatile Consumer<StubConnection> onDispose = c -> { };

    @Override
    public StubConnection connect(Endpoint endpoint) throws IOException {
        if (failConnects) {
            throw new ConnectException("Connection refused (stub)");
        }
        StubConnection c = new StubConnection(ids.incrementAndGet(), endpoint);
        opened.add(c);
        return c;
    }

    @Override
    public boolean validate(StubConnection connection) {
        return validator.test(connection);
    }

    @Override
    public void dispose(StubConnection connection) {
        onDispose.accept(connection);
        if (!connection.disposed.compareAndSet(false, true)) {
            throw new AssertionError("disposed twice: " + connection);
        }
    }

    public long disposedCount() {
        return opened.stream().filter(c -> c.disposed.get()).count();
    }
}
