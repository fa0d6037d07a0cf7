package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.PoolsUnderTest;
import io.github.portkeeper.core.testing.ResettingChannelConnector;
import io.github.portkeeper.test.Kernel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

/**
 * A connector's {@link Connector#dispose} that throws an {@link Error} (an {@code AssertionError}
 * with {@code -ea}) after the pool closed the connection's socket: the pool's own close of its
 * other connections goes on, each connection is disposed once, and the pool holds nothing.
 */
@Timeout(60)
class DisposeErrorTest {

    @RegisterExtension
    final PoolsUnderTest pools = new PoolsUnderTest();

    @Test
    void aDisposeThatThrowsAnErrorStopsNeitherThePoolsCloseNorItsAccounting() throws Exception {
        Kernel.assumeLinux();
        ServerSocket server = pools.closeAfter(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
        Endpoint endpoint = Endpoint.of(InetAddress.getLoopbackAddress().getHostAddress(), server.getLocalPort());
        AtomicInteger disposed = new AtomicInteger();
        Connector<SocketChannel> connector = new ResettingChannelConnector(Duration.ofSeconds(10)) {
            @Override
            public void dispose(SocketChannel connection) {
                disposed.incrementAndGet();
                throw new AssertionError("dispose bug");
            }
        };
        Pool<SocketChannel> pool = pools.of(connector, PoolConfig.builder().name("dispose-error").maxPerEndpoint(3)
                .retirement(Retirement.reset()));
        List<Lease<SocketChannel>> leases = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            leases.add(pool.lease(endpoint));
        }
        List<Socket> accepted = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            accepted.add(pools.closeAfter(server.accept()));
        }
        leases.forEach(Lease::close); // three idle connections

        Throwable thrown = catchThrowable(pool::close);

        assertThat(thrown).as("the pool's close").isNull();
        assertThat(disposed).as("connections disposed, once each").hasValue(3);
        assertThat(pool.stats().endpoint(endpoint)).as("what the pool holds after its close")
                .isEqualTo(new PoolStats.EndpointStats(0, 0, 0, 0));
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(
                KernelProbe.linux().snapshot().countToRemote(TcpState.ESTABLISHED, address))
                .as("client sockets still open toward the server").isZero());
    }
}
