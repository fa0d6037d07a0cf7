package io.github.portkeeper.http.testing;

import io.github.portkeeper.test.Kernel;

import io.github.portkeeper.http.PortkeeperConnectionManager;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Owns a test's clients and servers and, after the test and before closing them, asserts that
 * nothing leaked (OkHttp's {@code ensureAllConnectionsReleased}): no connection of a tracked
 * manager is still leased, and the kernel shows no CLOSE_WAIT socket toward a tracked server.
 * Before each test, skips it where the kernel cannot be asked ({@code /proc/net/tcp} missing):
 * the kernel is the judge of these tests.
 *
 * <pre>{@code @RegisterExtension final LeakCheck leaks = new LeakCheck();}</pre>
 *
 * The checks run while clients and servers are still open (a pool that only cleans up on close
 * would pass otherwise); then everything registered with {@link #closeAfter} is closed, last
 * registered first.
 */
public final class LeakCheck implements BeforeEachCallback, AfterEachCallback {

    /**
     * How long a CLOSE_WAIT may take to go: the watcher reacts within a tick; this is generous
     * because on a loaded host (other builds, hosts with many sockets) one read of
     * {@code /proc/net/tcp} alone can take a while. A pass costs one poll.
     */
    private static final Duration CLOSE_WAIT_GRACE = Duration.ofSeconds(10);

    private final List<PortkeeperConnectionManager> managers = new CopyOnWriteArrayList<>();
    private final List<InetSocketAddress> servers = new CopyOnWriteArrayList<>();
    private final Deque<AutoCloseable> toClose = new ArrayDeque<>();

    /** Checks {@code manager}'s pool for leased connections after the test. */
    public PortkeeperConnectionManager track(PortkeeperConnectionManager manager) {
        managers.add(manager);
        return manager;
    }

    /** Checks the kernel for CLOSE_WAIT sockets toward {@code server} after the test. */
    public InetSocketAddress track(InetSocketAddress server) {
        servers.add(server);
        return server;
    }

    /** Closes {@code resource} after the test, after the checks. */
    public synchronized <T extends AutoCloseable> T closeAfter(T resource) {
        toClose.push(resource);
        return resource;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        Kernel.assumeLinux();
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        try {
            verify();
        } finally {
            managers.clear();
            servers.clear();
            closeAll();
        }
    }

    /** The checks, also callable mid-test. */
    public void verify() {
        for (PortkeeperConnectionManager m : managers) {
            assertThat(m.pool().stats().active()).as("connections still leased from %s", m).isZero();
        }
        for (InetSocketAddress server : servers) {
            await("no CLOSE_WAIT toward " + server).atMost(CLOSE_WAIT_GRACE).pollInterval(Duration.ofMillis(10))
                    .untilAsserted(() -> assertThat(Kernel.clientCloseWait(server)).as(() -> Kernel.describe(server)).isZero());
        }
    }

    private synchronized void closeAll() throws Exception {
        Exception first = null;
        AutoCloseable c;
        while ((c = toClose.poll()) != null) {
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
