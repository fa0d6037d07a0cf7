package io.github.portkeeper.test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.portkeeper.core.TcpState;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link Kernel}'s views: the client sockets' own local ports by state, and a server's side of its port. */
class KernelTest {

    @BeforeAll
    static void linuxOnly() {
        Kernel.assumeLinux();
    }

    @Test
    void clientPortsNamesEachClientSocketTheServerLeftInCloseWait() throws IOException {
        try (LineServer server = LineServer.closingOnAccept();
                Socket a = new Socket(server.address().getAddress(), server.address().getPort());
                Socket b = new Socket(server.address().getAddress(), server.address().getPort());
                LineServer other = LineServer.closingOnAccept();
                Socket elsewhere = new Socket(other.address().getAddress(), other.address().getPort())) {
            InetSocketAddress to = server.address();
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(Kernel.clientPorts(to, TcpState.CLOSE_WAIT))
                    .as(Kernel.describe(to)).containsExactlyInAnyOrder(a.getLocalPort(), b.getLocalPort()));
            assertThat(Kernel.clientPorts(to, TcpState.ESTABLISHED)).isEmpty();
            assertThat(Kernel.clientPorts(to, TcpState.CLOSE_WAIT)).doesNotContain(elsewhere.getLocalPort());
        }
    }

    @Test
    void serverCloseWaitCountsTheAcceptedSocketsWhoseClientClosedAndTheServerHasNot() throws IOException {
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            int port = listener.getLocalPort();
            InetSocketAddress to = new InetSocketAddress(listener.getInetAddress(), port);
            Socket client = new Socket(to.getAddress(), port);
            try (Socket accepted = listener.accept()) {
                assertThat(Kernel.serverCloseWait(port)).as(Kernel.describe(to)).isZero();
                client.close(); // the client closes first; the server side is left open
                await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                        assertThat(Kernel.serverCloseWait(port)).as(Kernel.describe(to)).isEqualTo(1));
                assertThat(Kernel.clientCloseWait(to)).as("the client's side is not counted").isZero();
            }
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(Kernel.serverCloseWait(port)).as(Kernel.describe(to)).isZero());
        }
    }
}
