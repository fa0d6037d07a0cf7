package io.github.portkeeper.core.testing;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PoolListener;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.Deque;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Builds a test's pools with a {@link TallyListener} and a record of the leases they rejected
 * listening, and closes them after the test, with anything else handed to {@link #closeAfter},
 * last registered first.
 *
 * <pre>{@code @RegisterExtension final PoolsUnderTest pools = new PoolsUnderTest();}</pre>
 *
 * <p>Thread-safety: the pools may report from any thread while the test reads.
 */
public final class PoolsUnderTest implements AfterEachCallback {

    private final TallyListener tally = new TallyListener();
    private final List<Throwable> rejections = new CopyOnWriteArrayList<>();
    private final PoolListener rejected = new PoolListener() {
        @Override
        public void leaseRejected(Endpoint endpoint, Throwable reason) {
            rejections.add(reason);
        }
    };
    private final Deque<AutoCloseable> toClose = new ConcurrentLinkedDeque<>();

    /** A pool of {@code config} with this fixture's listeners added, closed after the test. */
    public <C> Pool<C> of(Connector<C> connector, PoolConfig.Builder config) {
        return closeAfter(Pool.of(connector, config.listener(tally).listener(rejected).build()));
    }

    /** Closes {@code resource} after the test, before anything registered earlier. */
    public <T extends AutoCloseable> T closeAfter(T resource) {
        toClose.push(resource);
        return resource;
    }

    /** What every pool built here reported. */
    public TallyListener tally() {
        return tally;
    }

    /** The reasons every pool built here gave for the leases it rejected, in order. */
    public List<Throwable> rejections() {
        return rejections;
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        AutoCloseable next;
        while ((next = toClose.poll()) != null) {
            next.close();
        }
    }
}
