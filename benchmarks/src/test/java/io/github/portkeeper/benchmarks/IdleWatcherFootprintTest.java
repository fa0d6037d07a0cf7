package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.test.Kernel;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@link IdleWatcherFootprint}'s baseline must be gone, in the kernel too, before the pool's
 * window begins: sockets it left behind would be counted by the port budget's kernel reads and
 * would lengthen the very table those reads parse.
 */
class IdleWatcherFootprintTest {

    @BeforeEach
    void linuxOnly() {
        Kernel.assumeLinux();
    }

    @Test
    void baselineLeavesNoSocketInTheKernelsTable() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.INET)) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
            InetSocketAddress server = (InetSocketAddress) listener.getLocalAddress();

            IdleWatcherFootprint.baselineHeap(listener, 20, ManagementFactory.getMemoryMXBean());

            await().atMost(Duration.ofSeconds(10)).untilAsserted(
                    () -> assertThat(left(server)).as("sockets of the baseline left: %s", Kernel.describe(server)).isZero());
        }
    }

    /** Sockets of either end of connections to {@code server}, in any state but the listener's. */
    private static int left(InetSocketAddress server) {
        SocketTable table = Kernel.snapshot();
        int n = 0;
        for (TcpState state : TcpState.values()) {
            if (state != TcpState.LISTEN) {
                n += table.countToRemote(state, server) + table.countOnLocalPort(state, server.getPort());
            }
        }
        return n;
    }
}
