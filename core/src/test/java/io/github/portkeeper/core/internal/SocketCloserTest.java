package io.github.portkeeper.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
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
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

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

    @BeforeEach
    void connect() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(KERNEL.isAvailable(),
                "judged by the kernel's /proc/net/tcp, which this system does not have");
        server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        serverAddress = new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
        client = SocketChannel.open(serverAddress);
        accepted = server.accept();
        localPort = ((InetSocketAddress) client.getLocalAddress()).getPort();
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

    /** Whether the kernel lists our client socket (by its local port, toward the server) in {@code state}. */
    private boolean ours(TcpState state) {
        Set<Integer> ports = KERNEL.snapshot().localPortsToRemote(state, serverAddress);
        return ports.contains(localPort);
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
