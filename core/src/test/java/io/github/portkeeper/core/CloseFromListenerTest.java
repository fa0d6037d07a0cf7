package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.PoolsUnderTest;
import io.github.portkeeper.core.testing.ResettingChannelConnector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A listener that closes its pool while another thread is closing it: the listener's close
 * returns (it runs inside the pool's housekeeping, which the other close waits for), and both
 * closes end.
 */
class CloseFromListenerTest {

    @RegisterExtension
    final PoolsUnderTest pools = new PoolsUnderTest();

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a deadlocked close ignores interrupts
    void aListenerThatClosesThePoolWhileAnotherThreadClosesItDoesNotDeadlock() throws Exception {
        ServerSocket server = pools.closeAfter(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        Endpoint endpoint = Endpoint.of(InetAddress.getLoopbackAddress().getHostAddress(), server.getLocalPort());
        AtomicReference<Pool<SocketChannel>> poolRef = new AtomicReference<>();
        AtomicReference<CompletableFuture<Void>> otherClose = new AtomicReference<>();
        PoolListener closesThePool = new PoolListener() {
            @Override
            public void connectionClosed(Endpoint ep, Ending ending, CloseReason reason) {
                Pool<SocketChannel> pool = poolRef.get();
                // Another thread starts closing the pool, and is under way (closed, waiting for
                // the housekeeping this callback runs in) before this listener closes it too.
                otherClose.set(CompletableFuture.runAsync(pool::close));
                await().atMost(Duration.ofSeconds(20)).until(pool::isClosed);
                pool.close();
            }
        };
        Pool<SocketChannel> pool = pools.of(new ResettingChannelConnector(Duration.ofSeconds(10)),
                PoolConfig.builder().name("close-from-listener").listener(closesThePool)); // awaits the peer by default
        poolRef.set(pool);
        Lease<SocketChannel> lease = pool.lease(endpoint);
        try (Socket accepted = server.accept()) {
            accepted.close(); // the server's FIN
        }
        assertThat(lease.connection().read(ByteBuffer.allocate(1))).as("the server's FIN arrived").isEqualTo(-1);

        lease.retire(); // the FIN is in: closed at once, the listener told on this thread
        lease.close();

        otherClose.get().get(30, TimeUnit.SECONDS);
        assertThat(pool.isClosed()).isTrue();
    }
}
