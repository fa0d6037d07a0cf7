package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.ChannelConnector;
import io.github.portkeeper.core.testing.PoolsUnderTest;
import io.github.portkeeper.core.testing.ResettingChannelConnector;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

/**
 * User code that runs after a connect succeeded and before the pool takes the connection into
 * service (the connect guard's {@code connectSucceeded}, the connector's {@code channel}) may
 * throw. The fresh connection then served nothing: it is closed at once with an RST (no
 * TIME_WAIT), recorded as such, its slot and port are given back, the lease fails with the
 * exception unchanged, and the next lease is served. The kernel is the judge of what was closed.
 */
@Timeout(60)
class FreshConnectionCallbackTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @RegisterExtension
    final PoolsUnderTest pools = new PoolsUnderTest();

    private final TallyListener tally = pools.tally();
    private final List<Throwable> rejections = pools.rejections();
    private ScriptedServer server;
    private Endpoint endpoint;

    private void startServer() throws IOException {
        Kernel.assumeLinux();
        server = pools.closeAfter(ScriptedServer.start());
        endpoint = Endpoint.of(server.host(), server.port());
    }

    private Pool<SocketChannel> pool(Connector<SocketChannel> connector, PoolConfig.Builder config) {
        return pools.of(connector, config.maxPerEndpoint(1).leaseTimeout(Duration.ofMillis(500)));
    }

    @Test
    void aConnectGuardWhoseConnectSucceededThrowsGetsTheFreshConnectionResetAndItsSlotFreed() throws Exception {
        startServer();
        IllegalStateException bug = new IllegalStateException("guard bug in connectSucceeded");
        RecordingGuard guard = new RecordingGuard(bug);
        Pool<SocketChannel> pool = pool(ChannelConnector.plain(), PoolConfig.builder().name("guard-success-throws")
                .connectGuard(guard));

        Throwable thrown = catchThrowable(() -> pool.lease(endpoint));

        assertThat(thrown).as("the guard's exception, unchanged, as a refusal in beforeConnect surfaces").isSameAs(bug);
        assertThat(guard.succeeded).as("connects the guard heard succeed").isEqualTo(1);
        assertThat(guard.abandoned).as("a guard that heard the outcome is not told again").isZero();
        assertFreshConnectionResetAndNextLeaseServed(pool, bug);
    }

    @Test
    void aConnectGuardWhoseConnectSucceededThrowsAnErrorGetsTheFreshConnectionResetAndTheErrorSurfacesUnchanged()
            throws Exception {
        startServer();
        AssertionError bug = new AssertionError("guard assertion in connectSucceeded");
        Pool<SocketChannel> pool = pool(ChannelConnector.plain(), PoolConfig.builder().name("guard-success-error")
                .connectGuard(new RecordingGuard(bug)));

        assertThat(catchThrowable(() -> pool.lease(endpoint))).isSameAs(bug);

        assertFreshConnectionResetAndNextLeaseServed(pool, bug);
    }

    @Test
    void aConnectorWhoseChannelThrowsHasTheFreshConnectionDisposedItsSlotFreedAndTheGuardToldItWasAbandoned()
            throws Exception {
        startServer();
        AssertionError bug = new AssertionError("connector bug in channel()");
        RecordingGuard guard = new RecordingGuard(null);
        Pool<SocketChannel> pool = pool(new ChannelThrowsOnce(bug), PoolConfig.builder().name("channel-throws")
                .connectGuard(guard));

        assertThat(catchThrowable(() -> pool.lease(endpoint))).isSameAs(bug);

        // channel() is the connector's code: its failure says nothing of the endpoint.
        assertThat(guard.succeeded).as("successes the guard heard").isZero();
        assertThat(guard.abandoned).as("abandoned connects the guard heard").isEqualTo(1);
        assertFreshConnectionResetAndNextLeaseServed(pool, bug);
        assertThat(guard.succeeded).as("the next lease's connect").isEqualTo(1);
    }

    /**
     * The fresh connection was reset (the server saw it, the kernel holds nothing toward the
     * server, the pool recorded one RESET and no TIME_WAIT), the lease was rejected once with
     * {@code bug}, nothing is counted any more, and the next lease gets a working connection.
     */
    private void assertFreshConnectionResetAndNextLeaseServed(Pool<SocketChannel> pool, Throwable bug) throws Exception {
        InetSocketAddress address = server.address();
        ScriptedServer.Ended end = server.nextEnd(WAIT);
        assertThat(end).as("the server saw the fresh connection end; %s", Kernel.describe(address)).isNotNull();
        assertThat(end.end()).as("how the fresh connection ended at the server")
                .isEqualTo(ScriptedServer.End.CLIENT_RESET_OR_ERROR);
        await().atMost(WAIT).untilAsserted(() -> assertThat(Kernel.clientEstablished(address))
                .as("client sockets left open toward the server: %s", Kernel.describe(address)).isZero());
        assertThat(Kernel.clientClosedFirst(address)).as("an RST leaves no TIME_WAIT: %s", Kernel.describe(address)).isZero();
        assertThat(tally.opened()).as("opened").isEqualTo(1);
        assertThat(tally.closed(Ending.RESET)).as("closes recorded as RESET: %s", tally).isEqualTo(1);
        assertThat(tally.closedTotal()).as("closes recorded").isEqualTo(1);
        assertThat(tally.timeWaitCaused()).as("timewait.caused vs kernel").isEqualTo(Kernel.clientTimeWait(address));
        assertThat(tally.leases()).as("leases served").isZero();
        assertThat(rejections).as("rejected leases reported").containsExactly(bug);
        assertThat(pool.stats(endpoint)).isEqualTo(new PoolStats.EndpointStats(0, 0, 0, 0));
        assertThat(pool.portBudget().endpoints().get(endpoint).live()).as("live sockets the port budget counts").isZero();

        try (Lease<SocketChannel> lease = pool.lease(endpoint)) {
            assertThat(ScriptedServer.exchange(lease.connection(), 41)).isEqualTo(42);
        }
        assertThat(rejections).as("rejected leases after the next lease").hasSize(1);

        pool.close();
        await().atMost(WAIT).untilAsserted(() -> assertThat(Kernel.clientEstablished(address) + Kernel.clientCloseWait(address))
                .as("open client sockets after the pool closed: %s", Kernel.describe(address)).isZero());
        assertThat(pool.stats(endpoint).active()).isZero();
    }

    /** Throws {@code onSuccess} (if any) from the first {@code connectSucceeded}; counts what it hears. */
    private static final class RecordingGuard implements ConnectGuard {
        private final Throwable onSuccess;
        private final AtomicBoolean thrown = new AtomicBoolean();
        volatile int succeeded;
        volatile int abandoned;

        RecordingGuard(Throwable onSuccess) {
            this.onSuccess = onSuccess;
        }

        @Override
        public void beforeConnect(Endpoint endpoint) {
        }

        @Override
        public synchronized void connectSucceeded(Endpoint endpoint, long nanos) {
            succeeded++;
            if (onSuccess != null && thrown.compareAndSet(false, true)) {
                if (onSuccess instanceof Error) {
                    throw (Error) onSuccess;
                }
                throw (RuntimeException) onSuccess;
            }
        }

        @Override
        public synchronized void connectAbandoned(Endpoint endpoint) {
            abandoned++;
        }
    }

    /**
     * A connector whose first {@code channel} call throws. It resets what it disposes of (SO_LINGER
     * 0, set before connecting) and says so, as its contract for a connection without a socket asks.
     */
    private static final class ChannelThrowsOnce extends ResettingChannelConnector {
        private final Error bug;
        private final AtomicBoolean thrown = new AtomicBoolean();

        ChannelThrowsOnce(Error bug) {
            super(WAIT);
            this.bug = bug;
        }

        @Override
        public SocketChannel channel(SocketChannel connection) {
            if (thrown.compareAndSet(false, true)) {
                throw bug;
            }
            return connection;
        }

        @Override
        public Ending endingWithoutChannel(SocketChannel connection) {
            return Ending.RESET;
        }

        @Override
        public void dispose(SocketChannel connection) {
            try {
                connection.close();
            } catch (IOException ignored) {
                // closing a socket with SO_LINGER 0 sends the RST; nothing else can fail here
            }
        }
    }
}
