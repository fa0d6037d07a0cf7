package io.github.portkeeper.core;

import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * A connector without a socket for the pool tells it how a connection ended
 * ({@link Connector#wasEstablished}, {@link Connector#endingWithoutChannel}). That is user code:
 * if it throws, the pool still closes the connection, gives back its slot and reports its close,
 * recording the cautious {@link Ending#LOCAL}.
 */
@Timeout(60)
class SocketlessEndingErrorTest {

    private final TallyListener tally = new TallyListener();
    private final List<AutoCloseable> closeAfter = new ArrayList<>();
    private Endpoint endpoint;

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeAfter.size() - 1; i >= 0; i--) {
            closeAfter.get(i).close();
        }
    }

    /** Plain blocking sockets the pool cannot see (no channel); the hooks under test throw {@code bug}. */
    private static final class HiddenSockets implements Connector<Socket> {
        private final RuntimeException wasEstablishedThrows;
        private final RuntimeException endingThrows;

        HiddenSockets(RuntimeException wasEstablishedThrows, RuntimeException endingThrows) {
            this.wasEstablishedThrows = wasEstablishedThrows;
            this.endingThrows = endingThrows;
        }

        @Override
        public Socket connect(Endpoint endpoint) throws IOException {
            Socket s = new Socket();
            s.setSoLinger(true, 0); // dispose resets it: no TIME_WAIT whatever the pool records
            s.connect(new InetSocketAddress(endpoint.host(), endpoint.port()), 5_000);
            return s;
        }

        @Override
        public boolean wasEstablished(Socket connection) {
            if (wasEstablishedThrows != null) {
                throw wasEstablishedThrows;
            }
            return true;
        }

        @Override
        public Ending endingWithoutChannel(Socket connection) {
            if (endingThrows != null) {
                throw endingThrows;
            }
            return Ending.RESET;
        }

        @Override
        public void dispose(Socket connection) {
            try {
                connection.close();
            } catch (IOException ignored) {
                // closed already
            }
        }
    }

    private Pool<Socket> pool(Connector<Socket> connector) throws IOException {
        ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        closeAfter.add(server);
        endpoint = Endpoint.of(InetAddress.getLoopbackAddress().getHostAddress(), server.getLocalPort());
        Pool<Socket> pool = Pool.of(connector, PoolConfig.builder().name("socketless-ending").maxPerEndpoint(1)
                .leaseTimeout(Duration.ofSeconds(2)).listener(tally).build());
        closeAfter.add(pool);
        return pool;
    }

    private void closedAndCountedDespite(Pool<Socket> pool) throws IOException {
        Lease<Socket> lease = pool.lease(endpoint);
        Socket socket = lease.connection();
        lease.markBroken();

        assertThat(catchThrowable(lease::close)).as("what the lease's close threw").isNull();

        assertThat(tally.closedEvents()).as("closes reported").extracting(TallyListener.Closed::ending)
                .containsExactly(Ending.LOCAL);
        assertThat(pool.stats().endpoint(endpoint)).as("nothing left of it in the pool")
                .isEqualTo(new PoolStats.EndpointStats(0, 0, 0, 0));
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(socket::isClosed);
        try (Lease<Socket> next = pool.lease(endpoint)) {
            assertThat(next.isReused()).as("the next lease gets a new connection in the slot given back").isFalse();
        }
    }

    @Test
    void aConnectionWhoseWasEstablishedThrowsIsStillClosedCountedAndItsSlotGivenBack() throws Exception {
        closedAndCountedDespite(pool(new HiddenSockets(new IllegalStateException("wasEstablished bug"), null)));
    }

    @Test
    void aConnectionWhoseEndingWithoutChannelThrowsIsStillClosedCountedAndItsSlotGivenBack() throws Exception {
        closedAndCountedDespite(pool(new HiddenSockets(null, new IllegalStateException("endingWithoutChannel bug"))));
    }
}
