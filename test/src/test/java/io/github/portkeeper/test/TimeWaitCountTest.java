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

/** {@link TimeWaitCount}: the starting count it keeps, and the difference it reads later. */
class TimeWaitCountTest {

    @BeforeAll
    static void linuxOnly() {
        Kernel.assumeLinux();
    }

    @Test
    void atStartIsTheClientTimeWaitAlreadyTowardTheServerAndNewSinceOnlyWhatCameAfter() throws IOException {
        try (LineServer server = LineServer.echo()) {
            assertThat(TimeWaitCount.toward(server.address()).atStart()).as("a fresh server's port").isZero();
            closeFirst(server, 2);

            TimeWaitCount count = TimeWaitCount.toward(server.address());
            assertThat(count.atStart()).as(Kernel.describe(server.address())).isEqualTo(2);
            assertThat(count.newSince()).isZero();

            closeFirst(server, 1);
            assertThat(count.newSince()).as(Kernel.describe(server.address())).isEqualTo(1);
            assertThat(count.atStart()).as("kept as taken").isEqualTo(2);
            assertThat(count).hasToString("TimeWaitCount[" + server.address() + ", atStart=2]");
        }
    }

    @Test
    void aClientCloseFirstIsCountedEvenWhenASocketCountedAtStartGoesAwayMeanwhile() throws IOException {
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            InetSocketAddress server = new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
            Socket earlier = new Socket(server.getAddress(), server.getPort());
            try (Socket earlierAccepted = listener.accept()) {
                earlier.close(); // the client's FIN, which the server never answers: FIN_WAIT2, counted at start
                await().atMost(Duration.ofSeconds(10))
                        .until(() -> Kernel.toward(server, TcpState.FIN_WAIT2) == 1);
                TimeWaitCount count = TimeWaitCount.toward(server);
                assertThat(count.atStart()).as(Kernel.describe(server)).isEqualTo(1);

                Socket fresh = new Socket(server.getAddress(), server.getPort());
                try (Socket freshAccepted = listener.accept()) {
                    fresh.close(); // the client closes first: its TIME_WAIT is the test's doing
                }
                earlierAccepted.setSoLinger(true, 0); // the server resets the earlier one: its FIN_WAIT2 goes away
                earlierAccepted.close();
                await().atMost(Duration.ofSeconds(10)).until(() -> Kernel.toward(server, TcpState.FIN_WAIT2) == 0
                        && Kernel.clientTimeWait(server) == 1);

                assertThat(count.newSince()).as(Kernel.describe(server)).isEqualTo(1);
            }
        }
    }

    private static void closeFirst(LineServer server, int times) throws IOException {
        for (int i = 0; i < times; i++) {
            try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
                KernelCheckTest.exchange(s);
            }
        }
    }
}
