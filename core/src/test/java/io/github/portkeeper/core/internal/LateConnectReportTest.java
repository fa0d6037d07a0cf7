package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.ConnectGuard;
import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.testing.RecordingListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A lease whose holder connects it ({@link LeaseHandle.ConnectsOnFirstUse}) closed from another
 * thread (HttpClient's cancel) while the holder's report of a successful connect is still with
 * the guard and the listeners: the close takes effect only once the report is done, so a
 * connection the guard refuses is never taken into service, and no release is heard before the
 * connection was heard opened and leased.
 */
class LateConnectReportTest {

    private static final long WAIT_SECONDS = 10;

    private final List<AutoCloseable> closeAfter = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeAfter.size() - 1; i >= 0; i--) {
            closeAfter.get(i).close();
        }
    }

    /** Connects nothing itself: the lease's holder connects the channel and reports it. */
    private static final class ConnectsLater implements Connector<SocketChannel>, LeaseHandle.ConnectsOnFirstUse {
        @Override
        public SocketChannel connect(Endpoint endpoint) throws IOException {
            return SocketChannel.open();
        }

        @Override
        public SocketChannel channel(SocketChannel connection) {
            return connection;
        }

        @Override
        public boolean wasEstablished(SocketChannel connection) {
            return connection.isConnected();
        }
    }

    /** A guard whose connectSucceeded waits, with the report under way, until the test lets it go on. */
    private static final class HeldGuard implements ConnectGuard {
        final CountDownLatch inSucceeded = new CountDownLatch(1);
        final CountDownLatch goOn = new CountDownLatch(1);
        private final boolean refuse;

        HeldGuard(boolean refuse) {
            this.refuse = refuse;
        }

        @Override
        public void beforeConnect(Endpoint endpoint) {
        }

        @Override
        public void connectSucceeded(Endpoint endpoint, long connectNanos) {
            inSucceeded.countDown();
            try {
                // Bounded: a close that waited for the report would hold us here only this long.
                goOn.await(3, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (refuse) {
                throw new IllegalStateException("refused by the guard");
            }
        }

        @Override
        public void connectFailed(Endpoint endpoint, long connectNanos, IOException cause) {
        }

        @Override
        public void connectAbandoned(Endpoint endpoint) {
        }
    }

    private ServerSocket server() throws IOException {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        closeAfter.add(server);
        return server;
    }

    private Pool<SocketChannel> pool(ConnectGuard guard, RecordingListener events) {
        Pool<SocketChannel> pool = Pool.of(new ConnectsLater(), PoolConfig.builder().name("late-connect")
                .maxTotal(1).maxPerEndpoint(1).portBudget(PortBudget.disabled())
                .connectGuard(guard).listener(events).build());
        closeAfter.add(pool);
        return pool;
    }

    /** Thread A: connects the lease's channel and reports it; what the report threw, if anything. */
    private static CompletableFuture<Throwable> connectAndReport(Lease<SocketChannel> lease, ServerSocket server) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                lease.connection().connect(new InetSocketAddress(server.getInetAddress(), server.getLocalPort()));
                LeaseHandle.connected(lease, 1_000_000L);
                return null;
            } catch (IOException | RuntimeException e) {
                return e;
            }
        });
    }

    @Test
    void aConnectionTheGuardRefusesIsNeverTakenIntoServiceWhenACancelClosesTheLeaseDuringTheReport() throws Exception {
        ServerSocket server = server();
        HeldGuard guard = new HeldGuard(true);
        RecordingListener events = new RecordingListener();
        Pool<SocketChannel> pool = pool(guard, events);
        Endpoint endpoint = Endpoint.of("127.0.0.1", server.getLocalPort());
        Lease<SocketChannel> lease = pool.lease(endpoint, Duration.ofSeconds(WAIT_SECONDS));

        CompletableFuture<Throwable> report = connectAndReport(lease, server);
        try (Socket accepted = server.accept()) {
            assertThat(guard.inSucceeded.await(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            lease.close(); // the canceller's close, on this thread, while the guard is deciding
            guard.goOn.countDown();

            assertThat(report.get(WAIT_SECONDS, TimeUnit.SECONDS))
                    .isInstanceOf(IllegalStateException.class).hasMessage("refused by the guard");
            assertThat(pool.stats().idle()).as("guard-refused connections left idle").isZero();
            assertThat(pool.stats().active()).isZero();
            assertThat(events.events).doesNotContain("released " + endpoint, "leased-new " + endpoint);
            // Reset at once, as any refused connection: the server reads a reset, not an end of stream.
            accepted.setSoTimeout((int) TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
            assertThatThrownBy(() -> accepted.getInputStream().read()).isInstanceOf(IOException.class);
        }
    }

    @Test
    void aCloseDuringASuccessfulReportReleasesTheConnectionOnlyAfterItWasHeardOpenedAndLeased() throws Exception {
        ServerSocket server = server();
        HeldGuard guard = new HeldGuard(false);
        RecordingListener events = new RecordingListener();
        Pool<SocketChannel> pool = pool(guard, events);
        Endpoint endpoint = Endpoint.of("127.0.0.1", server.getLocalPort());
        Lease<SocketChannel> lease = pool.lease(endpoint, Duration.ofSeconds(WAIT_SECONDS));

        CompletableFuture<Throwable> report = connectAndReport(lease, server);
        try (Socket accepted = server.accept()) {
            assertThat(guard.inSucceeded.await(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            lease.close();
            assertThat(events.events).as("events heard while the guard decides").doesNotContain("released " + endpoint);
            guard.goOn.countDown();

            assertThat(report.get(WAIT_SECONDS, TimeUnit.SECONDS)).isNull();
            assertThat(events.events).containsSubsequence("opened " + endpoint, "leased-new " + endpoint, "released " + endpoint);
            assertThat(pool.stats().idle()).isEqualTo(1);
            assertThat(pool.stats().active()).isZero();
        }
    }
}
