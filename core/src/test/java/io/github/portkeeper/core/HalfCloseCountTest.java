package io.github.portkeeper.core;

import io.github.portkeeper.test.FreshPort;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import io.github.portkeeper.test.TimeWaitCount;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * A {@link SocketPool} user who half-closes ({@code shutdownOutput()} or {@code shutdownInput()})
 * and then closes: the lease is broken, and the count must be what the kernel does. After
 * {@code shutdownOutput()} our FIN already went first: one {@code LOCAL} ending, one client
 * TIME_WAIT once the server closes. After {@code shutdownInput()} Linux keeps what had arrived in
 * the receive queue (nothing is discarded), and a close with bytes still there is answered with
 * RST, not FIN: no TIME_WAIT, whatever the retirement policy asked for.
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
        listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 1);
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
        listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 1);
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

    @Test
    void aSocketShutForInputWithUnreadBytesIsResetByTheKernelOnCloseSoTheLocalPolicyCountsNoTimeWait() throws IOException {
        Kernel.assumeLinux();
        listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 1);
        InetSocketAddress server = new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
        sockets = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally)
                .retirement(Retirement.local()).build()).build();
        TimeWaitCount timeWait = TimeWaitCount.toward(server);

        Socket s = sockets.socket(server.getHostString(), server.getPort());
        int localPort = s.getLocalPort();
        try (Socket accepted = listener.accept()) {
            accepted.setSoTimeout((int) WAIT.toMillis());
            OutputStream toClient = accepted.getOutputStream();
            toClient.write(new byte[] {1, 2, 3, 4, 5}); // the server answers; the client never reads it
            toClient.flush();
            InputStream fromServer = s.getInputStream();
            await("the answer arrived at the client").atMost(WAIT).until(() -> fromServer.available() == 5);
            s.shutdownInput();
            s.close();
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);

            // The server, which kept the connection open, sees the kernel's RST, not a FIN.
            assertThatThrownBy(() -> accepted.getInputStream().read())
                    .as("the server's read after the client's close").isInstanceOf(SocketException.class);
        }
        assertThat(tally.closedEvents()).singleElement()
                .satisfies(c -> assertThat(c.ending()).isEqualTo(Ending.RESET));
        assertThat(tally.timeWaitCaused()).as("timewait.caused: %s", tally).isZero();
        await("client port " + localPort + " gone, or in TIME_WAIT").atMost(WAIT)
                .until(() -> !Kernel.clientPorts(server, TcpState.FIN_WAIT1).contains(localPort)
                        && !Kernel.clientPorts(server, TcpState.FIN_WAIT2).contains(localPort));
        assertThat(tally.timeWaitCaused()).as("timewait.caused vs kernel: %s", Kernel.describe(server))
                .isEqualTo(timeWait.newSince());
    }

    @Test
    void aSocketShutForInputWithNothingUnreadIsClosedWithFinUnderTheLocalPolicyAndLeavesTheTimeWaitTheKernelShows() throws IOException {
        Kernel.assumeLinux();
        listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 1);
        InetSocketAddress server = new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
        sockets = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally)
                .retirement(Retirement.local()).build()).build();
        TimeWaitCount timeWait = TimeWaitCount.toward(server);

        Socket s = sockets.socket(server.getHostString(), server.getPort());
        int localPort = s.getLocalPort();
        try (Socket accepted = listener.accept()) {
            accepted.setSoTimeout((int) WAIT.toMillis());
            accepted.getOutputStream().write(new byte[] {1, 2, 3});
            accepted.getOutputStream().flush();
            InputStream fromServer = s.getInputStream();
            assertThat(fromServer.readNBytes(3)).as("the client reads the whole answer").hasSize(3);
            s.shutdownInput();
            s.close();
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(accepted.getInputStream().read()).as("the server reads our FIN").isEqualTo(-1);
        }
        assertThat(tally.closedEvents()).singleElement()
                .satisfies(c -> assertThat(c.ending()).isEqualTo(Ending.LOCAL));
        assertThat(tally.timeWaitCaused()).as("timewait.caused: %s", tally).isEqualTo(1);
        await("client port " + localPort + " in TIME_WAIT").atMost(WAIT)
                .until(() -> Kernel.clientPorts(server, TcpState.TIME_WAIT).contains(localPort));
        assertThat(tally.timeWaitCaused()).as("timewait.caused vs kernel: %s", Kernel.describe(server))
                .isEqualTo(timeWait.newSince());
    }

    /**
     * The server resets the connection while our input is shut and our output open: the kernel
     * drops the connection at once (no row left in its table), and our close sends nothing. That
     * is an abort, with no TIME_WAIT, whatever the policy asked for; counted as the policy asked
     * (LOCAL here), it was a TIME_WAIT the kernel never had.
     */
    @Test
    void aSocketShutForInputThatTheServerResetIsCountedAbortedAndCausesNoTimeWaitUnderTheLocalPolicy() throws IOException {
        Kernel.assumeLinux();
        listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 1);
        InetSocketAddress server = new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
        sockets = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally)
                .retirement(Retirement.local()).build()).build();
        TimeWaitCount timeWait = TimeWaitCount.toward(server);

        Socket s = sockets.socket(server.getHostString(), server.getPort());
        int localPort = s.getLocalPort();
        try (Socket accepted = listener.accept()) {
            await("client port " + localPort + " established").atMost(WAIT)
                    .until(() -> Kernel.clientPorts(server, TcpState.ESTABLISHED).contains(localPort));
            s.shutdownInput();
            accepted.setSoLinger(true, 0); // the server's close is an RST
        }
        await("client port " + localPort + " dropped by the kernel").atMost(WAIT)
                .until(() -> !Kernel.clientPorts(server, TcpState.ESTABLISHED).contains(localPort));
        s.close();
        await().atMost(WAIT).until(() -> tally.closedTotal() == 1);

        assertThat(tally.closedEvents()).singleElement()
                .satisfies(c -> assertThat(c.ending()).isEqualTo(Ending.ABORTED));
        assertThat(Kernel.clientPorts(server, TcpState.TIME_WAIT)).as("the kernel: %s", Kernel.describe(server))
                .doesNotContain(localPort);
        assertThat(tally.timeWaitCaused()).as("timewait.caused vs kernel: %s", Kernel.describe(server))
                .isZero().isEqualTo(timeWait.newSince());
    }

    @ParameterizedTest(name = "fallback RESET: {0}")
    @ValueSource(booleans = {false, true})
    void aSocketShutBothWaysAfterTheServerClosedIsAPassiveCloseThatCausesNoTimeWait(boolean resetPolicy)
            throws IOException {
        Kernel.assumeLinux();
        listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 1);
        InetSocketAddress server = new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
        sockets = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally)
                .retirement(resetPolicy ? Retirement.defaults() : Retirement.local()).build()).build();
        TimeWaitCount timeWait = TimeWaitCount.toward(server);

        Socket s = sockets.socket(server.getHostString(), server.getPort());
        int localPort = s.getLocalPort();
        try (Socket accepted = listener.accept()) {
            accepted.setSoTimeout((int) WAIT.toMillis());
            accepted.shutdownOutput(); // the server's FIN comes first
            await("client port " + localPort + " in CLOSE_WAIT").atMost(WAIT)
                    .until(() -> Kernel.clientPorts(server, TcpState.CLOSE_WAIT).contains(localPort));
            s.shutdownOutput(); // our FIN second: LAST_ACK, then gone once the server acknowledges it
            assertThat(accepted.getInputStream().read()).as("the server reads our FIN").isEqualTo(-1);
            s.shutdownInput();
            s.close();
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
        }
        await("client port " + localPort + " gone from LAST_ACK").atMost(WAIT)
                .until(() -> !Kernel.clientPorts(server, TcpState.LAST_ACK).contains(localPort));

        assertThat(Kernel.clientPorts(server, TcpState.TIME_WAIT)).as("the kernel: %s", Kernel.describe(server))
                .doesNotContain(localPort);
        assertThat(tally.closedEvents()).singleElement()
                .satisfies(c -> assertThat(c.ending()).isEqualTo(Ending.PEER));
        assertThat(tally.timeWaitCaused()).as("timewait.caused vs kernel: %s", Kernel.describe(server))
                .isZero().isEqualTo(timeWait.newSince());
    }

    @Test
    void aSocketShutForOutputThenAnsweredByTheServerThenShutForInputIsCountedLocalWithTheKernelsTimeWait()
            throws IOException {
        Kernel.assumeLinux();
        listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 1);
        InetSocketAddress server = new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
        sockets = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally).build()).build();
        TimeWaitCount timeWait = TimeWaitCount.toward(server);

        Socket s = sockets.socket(server.getHostString(), server.getPort());
        int localPort = s.getLocalPort();
        try (Socket accepted = listener.accept()) {
            accepted.setSoTimeout((int) WAIT.toMillis());
            s.shutdownOutput(); // our FIN first
            assertThat(accepted.getInputStream().read()).as("the server reads our FIN").isEqualTo(-1);
            accepted.shutdownOutput(); // the server's FIN second: TIME_WAIT here, the socket still open
            await("client port " + localPort + " in TIME_WAIT").atMost(WAIT)
                    .until(() -> Kernel.clientPorts(server, TcpState.TIME_WAIT).contains(localPort));
            s.shutdownInput();
            s.close();
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
        }
        assertThat(tally.closedEvents()).singleElement()
                .satisfies(c -> assertThat(c.ending()).isEqualTo(Ending.LOCAL));
        assertThat(tally.timeWaitCaused()).as("timewait.caused vs kernel: %s", Kernel.describe(server))
                .isEqualTo(1).isEqualTo(timeWait.newSince());
    }
}
