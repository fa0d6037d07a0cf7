package io.github.portkeeper.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.TcpState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * How {@link SocketCloser} names a close when the peer's FIN lands at the worst moments, judged
 * by the kernel's own table: a FIN that arrives after our check but before our close makes the
 * close passive (no TIME_WAIT here), a FIN after ours leaves a TIME_WAIT here.
 */
@Timeout(60)
class SocketCloserTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final KernelProbe KERNEL = KernelProbe.linux();

    private ServerSocket server;
    private SocketChannel client;
    private Socket accepted;
    private InetSocketAddress serverAddress;
    private int localPort;
    private InetSocketAddress clientAddress;

    @BeforeEach
    void connect() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(KERNEL.isAvailable(),
                "judged by the kernel's /proc/net/tcp, which this system does not have");
        server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        serverAddress = new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
        client = SocketChannel.open(serverAddress);
        accepted = server.accept();
        clientAddress = (InetSocketAddress) client.getLocalAddress();
        localPort = clientAddress.getPort();
    }

    @AfterEach
    void closeAll() throws IOException {
        if (accepted != null) {
            accepted.close();
        }
        if (client != null) {
            client.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void aFinLandingBetweenTheCheckAndTheCloseIsAPassiveClose() {
        Ending ending = SocketCloser.close(client, false, () -> {
            closeServerSide();
            await().atMost(WAIT).until(() -> ours(TcpState.CLOSE_WAIT));
        }, () -> { });

        await().atMost(WAIT).until(() -> !ours(TcpState.LAST_ACK));
        assertThat(ours(TcpState.TIME_WAIT)).as("the kernel keeps no TIME_WAIT for a passive close").isFalse();
        assertThat(ending).isEqualTo(Ending.PEER);
    }

    @Test
    void aFinLandingJustAfterOursIsALocalClose() {
        Ending ending = SocketCloser.close(client, false, () -> { }, () -> {
            // The server sees our FIN, then closes: its FIN comes second.
            readEndOfStream();
            closeServerSide();
            await().atMost(WAIT).until(() -> ours(TcpState.TIME_WAIT) || ours(TcpState.CLOSING));
        });

        assertThat(ending).isEqualTo(Ending.LOCAL);
        await().atMost(WAIT).until(() -> ours(TcpState.TIME_WAIT));
    }

    @Test
    void aCloseWithNoFinInSightIsLocal() {
        Ending ending = SocketCloser.close(client, false);
        assertThat(ending).isEqualTo(Ending.LOCAL);

        readEndOfStream();
        closeServerSide();
        await().atMost(WAIT).until(() -> ours(TcpState.TIME_WAIT));
    }

    @Test
    void aFinThatArrivedBeforeTheCheckIsAPassiveClose() {
        closeServerSide();
        await().atMost(WAIT).until(() -> ours(TcpState.CLOSE_WAIT));

        assertThat(SocketCloser.close(client, false)).isEqualTo(Ending.PEER);
        await().atMost(WAIT).until(() -> !ours(TcpState.LAST_ACK));
        assertThat(ours(TcpState.TIME_WAIT)).isFalse();
    }

    @Test
    void aSocketHeldForAbortWhosePeerFinArrivedClosesPassivelyWhenAskedToReset() throws IOException {
        assertThat(SocketCloser.holdForAbort(client)).isTrue();
        accepted.shutdownOutput();
        await().atMost(WAIT).until(() -> ours(TcpState.CLOSE_WAIT));

        assertThat(SocketCloser.close(client, true)).isEqualTo(Ending.PEER);
        // A PEER close is passive: the server gets our FIN, not the RST that linger 0 would send.
        readEndOfStream();
        assertThat(ours(TcpState.TIME_WAIT)).isFalse();
    }

    @Test
    void aSocketHeldForAbortWhoseOutputWasShutClosesLocalWithATimeWaitWhenAskedToReset() throws IOException {
        assertThat(SocketCloser.holdForAbort(client)).isTrue();
        client.shutdownOutput();
        readEndOfStream();

        assertThat(SocketCloser.close(client, true)).isEqualTo(Ending.LOCAL);
        // Our FIN went first and the close keeps the connection: the server's FIN, second, puts us in TIME_WAIT.
        closeServerSide();
        await().atMost(WAIT).until(() -> ours(TcpState.TIME_WAIT));
    }

    @Test
    void aFinLandingBeforeOursIsAPassiveCloseEvenWhenAnotherLocalAddressOnOurPortIsInTimeWait() throws IOException {
        try (Twin twin = Twin.connect(serverAddress, server, localPort)) {
            twin.closeFirst(); // the twin, our port on 127.0.0.2, closes first: TIME_WAIT
            await().atMost(WAIT).until(() -> twin.in(TcpState.TIME_WAIT));

            Ending ending = SocketCloser.close(client, false, () -> {
                closeServerSide();
                await().atMost(WAIT).until(() -> ours(TcpState.CLOSE_WAIT));
            }, () -> { });

            await().atMost(WAIT).until(() -> !ours(TcpState.LAST_ACK));
            assertThat(ours(TcpState.TIME_WAIT)).as("the kernel keeps no TIME_WAIT for a passive close").isFalse();
            assertThat(ending).isEqualTo(Ending.PEER);
        }
    }

    @Test
    void aSocketShutForInputIsNotJudgedByAnotherLocalAddressOnItsPortInCloseWait() throws IOException {
        try (Twin twin = Twin.connect(serverAddress, server, localPort)) {
            twin.acceptedSide.close(); // the server closes the twin first: the twin in CLOSE_WAIT
            await().atMost(WAIT).until(() -> twin.in(TcpState.CLOSE_WAIT));
            client.shutdownInput();

            Ending ending = SocketCloser.close(client, false);

            assertThat(ending).as("our FIN went first").isEqualTo(Ending.LOCAL);
            readEndOfStream();
            closeServerSide();
            await().atMost(WAIT).until(() -> ours(TcpState.TIME_WAIT));
        }
    }

    @Test
    void aSocketShutForInputWhoseLiveRowTheTableReadMissedIsResetAndLeavesNoTimeWait(@TempDir Path dir) throws IOException {
        client.shutdownInput();
        Ending ending = withTableMissingEveryRow(dir, () -> SocketCloser.close(client, false));

        assertThat(ending).isEqualTo(Ending.ABORTED);
        accepted.setSoTimeout((int) WAIT.toMillis());
        // "Dropped by the kernel" is only true if our close sends nothing the peer could answer.
        assertThatThrownBy(() -> accepted.getInputStream().read())
                .as("the connection was live: the close must be an RST, not a FIN that leads to a TIME_WAIT here")
                .isInstanceOf(SocketException.class);
        closeServerSide();
        assertThat(ours(TcpState.TIME_WAIT)).isFalse();
        assertThat(ours(TcpState.FIN_WAIT2)).isFalse();
    }

    @Test
    void aSocketShutBothWaysWhoseLiveRowTheTableReadMissedLeavesNoTimeWaitWhenThePeerClosesAfter(@TempDir Path dir)
            throws IOException {
        client.shutdownOutput();
        readEndOfStream(); // our FIN went first: the connection is really in FIN_WAIT2
        client.shutdownInput();
        Ending ending = withTableMissingEveryRow(dir, () -> SocketCloser.close(client, false));

        assertThat(ending).isEqualTo(Ending.PEER);
        closeServerSide(); // the peer's FIN, second, would put a connection still listed into TIME_WAIT
        await().atMost(WAIT).until(() -> !ours(TcpState.FIN_WAIT2));
        assertThat(ours(TcpState.TIME_WAIT)).as("a close counted as passive leaves no TIME_WAIT here").isFalse();
    }

    /** Runs {@code close} while {@link SocketCloser} reads an empty table, as a read that missed the row. */
    private static Ending withTableMissingEveryRow(Path dir, java.util.function.Supplier<Ending> close) throws IOException {
        Path empty = Files.createFile(dir.resolve("tcp"));
        Path[] before = SocketCloser.tables;
        SocketCloser.tables = new Path[] {empty, empty};
        try {
            return close.get();
        } finally {
            SocketCloser.tables = before;
        }
    }

    /**
     * A second client socket on our local port, from another loopback address (127.0.0.2): a
     * different connection, whose row must never be taken for ours.
     */
    private static final class Twin implements AutoCloseable {
        final Socket socket;
        final Socket acceptedSide;
        final InetSocketAddress serverAddress;
        final InetSocketAddress address;

        private Twin(Socket socket, Socket acceptedSide, InetSocketAddress serverAddress) {
            this.address = (InetSocketAddress) socket.getLocalSocketAddress();
            this.socket = socket;
            this.acceptedSide = acceptedSide;
            this.serverAddress = serverAddress;
        }

        static Twin connect(InetSocketAddress serverAddress, ServerSocket server, int localPort) throws IOException {
            Socket socket = new Socket();
            try {
                socket.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), localPort));
                socket.connect(serverAddress, (int) WAIT.toMillis());
                server.setSoTimeout((int) WAIT.toMillis());
                return new Twin(socket, server.accept(), serverAddress);
            } catch (IOException e) {
                socket.close();
                throw e;
            }
        }

        /** The twin closes, the server reads its FIN and closes too: the twin goes to TIME_WAIT. */
        void closeFirst() throws IOException {
            socket.close();
            acceptedSide.setSoTimeout((int) WAIT.toMillis());
            assertThat(acceptedSide.getInputStream().read()).as("the server reads the twin's FIN").isEqualTo(-1);
            acceptedSide.close();
        }

        /** Whether the kernel lists the twin in {@code state}. */
        boolean in(TcpState state) {
            return SocketCloserTest.in(state, address, serverAddress);
        }

        @Override
        public void close() throws IOException {
            socket.close();
            acceptedSide.close();
        }
    }

    /** Whether the kernel lists our client socket (by its 4-tuple) in {@code state}. */
    private boolean ours(TcpState state) {
        return in(state, clientAddress, serverAddress);
    }

    /** Whether the kernel lists the socket with this 4-tuple in {@code state}. */
    private static boolean in(TcpState state, InetSocketAddress local, InetSocketAddress remote) {
        ProcNetTcpParser.Sockets table =
                ProcNetTcpParser.read(ProcNetTcpParser.PROC_NET_TCP, ProcNetTcpParser.PROC_NET_TCP6);
        int entry = table.entry(local, remote);
        return entry >= 0 && table.stateAt(entry) == state.code();
    }

    private void closeServerSide() {
        try {
            accepted.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void readEndOfStream() {
        try {
            accepted.setSoTimeout((int) WAIT.toMillis());
            assertThat(accepted.getInputStream().read()).as("the server reads our FIN").isEqualTo(-1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
