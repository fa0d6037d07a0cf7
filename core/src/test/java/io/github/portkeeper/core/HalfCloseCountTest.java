package io.github.portkeeper.core;

import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import io.github.portkeeper.test.TimeWaitCount;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A {@link SocketPool} user who half-closes ({@code shutdownOutput()}) and then closes: the
 * lease is broken, so the pool closes it as a reset would, yet its FIN already went first. The
 * count must be what the kernel does: one {@code LOCAL} ending, one client TIME_WAIT once the
 * server closes.
 */
@Timeout(60)
class HalfCloseCountTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    private final TallyListener tally = new TallyListener();
    private SocketPool sockets;
    private ServerSocket listener;

    @AfterEach
    void tearDown() throws IOException {
        if (sockets != null) {
            sockets.close();
        }
        if (listener != null) {
            listener.close();
        }
    }

    @Test
    void aSocketShutForOutputThenClosedIsCountedLocalAndLeavesTheTimeWaitTheKernelShows() throws IOException {
        Kernel.assumeLinux();
        listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        InetSocketAddress server = new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
        sockets = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally).build()).build();

        Socket s = sockets.socket(server.getHostString(), server.getPort());
        int localPort = s.getLocalPort();
        try (Socket accepted = listener.accept()) {
            accepted.setSoTimeout((int) WAIT.toMillis());
            s.shutdownOutput();
            assertThat(accepted.getInputStream().read()).as("the server reads our FIN").isEqualTo(-1);
            s.close();
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.timeWaitCaused()).as("timewait.caused: %s", tally).isEqualTo(1);
            // The server, silent until now, closes second: the client's socket goes to TIME_WAIT,
            // unless our close was an RST that already destroyed the connection.
        }
        await("client port " + localPort + " in TIME_WAIT").atMost(WAIT)
                .until(() -> Kernel.clientPorts(server, TcpState.TIME_WAIT).contains(localPort));
        assertThat(tally.timeWaitCaused()).as("timewait.caused vs kernel: %s", Kernel.describe(server))
                .isEqualTo(Kernel.clientTimeWait(server));
    }

    @Test
    void aSocketShutForInputAfterTheServerClosedIsClosedPassivelyUnderTheLocalPolicyAndCausesNoTimeWait() throws IOException {
        Kernel.assumeLinux();
        listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        InetSocketAddress server = new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
        sockets = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally)
                .retirement(Retirement.local()).build()).build();
        TimeWaitCount timeWait = TimeWaitCount.toward(server);

        Socket s = sockets.socket(server.getHostString(), server.getPort());
        int localPort = s.getLocalPort();
        try (Socket accepted = listener.accept()) {
            accepted.shutdownOutput(); // the server closes first
        }
        await("client port " + localPort + " in CLOSE_WAIT").atMost(WAIT)
                .until(() -> Kernel.clientPorts(server, TcpState.CLOSE_WAIT).contains(localPort));
        s.shutdownInput();
        s.close();
        await().atMost(WAIT).until(() -> tally.closedTotal() == 1);

        assertThat(tally.timeWaitCaused()).as("timewait.caused: %s", tally).isZero();
        assertThat(tally.closedEvents()).singleElement()
                .satisfies(c -> assertThat(c.ending()).isEqualTo(Ending.PEER));
        assertThat(timeWait.newSince()).as("client TIME_WAIT: %s", Kernel.describe(server)).isZero();
    }
}
