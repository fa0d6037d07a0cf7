package io.github.portkeeper.benchmarks;

import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.io.ModalCloseable;

/**
 * A connection that does no I/O, so a benchmark measures the pool and nothing else. It is
 * {@link ModalCloseable} because HttpCore's pools only pool such connections; the other pools
 * take it as a plain object.
 */
final class StubConnection implements ModalCloseable {

    private final int id;

    StubConnection(int id) {
        this.id = id;
    }

    int id() {
        return id;
    }

    @Override
    public void close(CloseMode closeMode) {
    }

    @Override
    public void close() {
    }
}
