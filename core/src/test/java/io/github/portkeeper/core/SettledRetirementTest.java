package io.github.portkeeper.core;

import io.github.portkeeper.test.Kernel;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A connection retired after its peer closed it (a response that said {@code Connection: close},
 * the server's FIN right behind it) is ended by the retiring thread, passively, without waking
 * the watcher's thread to find a FIN that is already there.
 */
class SettledRetirementTest {

    @Test
    void aConnectionRetiredAfterItsPeerClosedIsClosedPassivelyByTheRetiringThread() throws Exception {
        Kernel.assumeLinux();
        List<String> closes = new CopyOnWriteArrayList<>();
        PoolListener recorder = new PoolListener() {
            @Override
            public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
                closes.add(ending + " " + reason + " on " + Thread.currentThread().getName());
            }
        };
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
             SocketPool sockets = SocketPool.builder()
                     .poolConfig(PoolConfig.builder().name("settled").listener(recorder).build()).build()) {
            InetSocketAddress address = new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
            Lease<SocketChannel> lease = sockets.pool().lease(Endpoint.of("127.0.0.1", address.getPort()), Duration.ofSeconds(10));
            server.accept().close(); // the peer closes first: its FIN is on its way
            await().atMost(Duration.ofSeconds(10)).until(() -> Kernel.clientCloseWait(address) == 1);

            lease.retire();
            lease.close();

            assertThat(closes).containsExactly("PEER RETIRED on " + Thread.currentThread().getName());
            assertThat(Kernel.clientCloseWait(address)).isZero();
        }
    }
}
