package io.github.portkeeper.test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.github.portkeeper.core.TcpState;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link FreshPort}: a new server never gets a port an earlier socket still has. */
class FreshPortTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final int ASKS = 100;

    @BeforeEach
    void linuxOnly() {
        Kernel.assumeLinux();
    }

    @Test
    void aPortAClientStillHoldsTimeWaitTowardIsNeverHandedOutAgain() throws IOException {
        InetSocketAddress old = leaveClientTimeWait();
        AtomicInteger offeredOld = new AtomicInteger();
        for (int i = 0; i < ASKS; i++) {
            AtomicInteger calls = new AtomicInteger();
            try (ServerSocket listener = FreshPort.bind(() -> calls.getAndIncrement() == 0
                    ? offer(old.getPort(), offeredOld) : new ServerSocket(0, 1, LOOPBACK),
                    ServerSocket::getLocalPort, ServerSocket::close)) {
                assertThat(listener.getLocalPort()).as("ask %d, %s", i, Kernel.describe(old)).isNotEqualTo(old.getPort());
            }
        }
        assertThat(offeredOld).as("the old port was offered first on every ask").hasValue(ASKS);
        assertThat(Kernel.clientTimeWait(old)).as("the TIME_WAIT lived through every ask: " + Kernel.describe(old))
                .isEqualTo(1);
    }

    @Test
    void listenNeverReturnsAPortAClientStillHoldsTimeWaitToward() throws IOException {
        InetSocketAddress old = leaveClientTimeWait();
        for (int i = 0; i < ASKS; i++) {
            try (ServerSocket listener = FreshPort.listen(LOOPBACK, 1)) {
                assertThat(listener.getLocalPort()).as("ask %d", i).isNotEqualTo(old.getPort());
            }
        }
        assertThat(Kernel.clientTimeWait(old)).as(Kernel.describe(old)).isEqualTo(1);
    }

    @Test
    void aPortAServerLeftTimeWaitOnIsNeverHandedOutAgain() throws IOException {
        int old;
        try (ServerSocket listener = new ServerSocket(0, 1, LOOPBACK);
                Socket client = new Socket(LOOPBACK, listener.getLocalPort());
                Socket accepted = listener.accept()) {
            old = listener.getLocalPort();
            accepted.close(); // the server closes first: its side of the port keeps TIME_WAIT
            assertThat(client.getInputStream().read()).isEqualTo(-1);
        }
        int port = old;
        await().atMost(Duration.ofSeconds(10)).until(() -> Kernel.serverTimeWait(port) == 1);
        AtomicInteger calls = new AtomicInteger();
        AtomicInteger offeredOld = new AtomicInteger();
        try (ServerSocket listener = FreshPort.bind(() -> calls.getAndIncrement() == 0
                ? offer(port, offeredOld) : new ServerSocket(0, 1, LOOPBACK),
                ServerSocket::getLocalPort, ServerSocket::close)) {
            assertThat(offeredOld).hasValue(1);
            assertThat(listener.getLocalPort()).isNotEqualTo(port);
        }
    }

    @Test
    void bindingsThatAlwaysGetAUsedPortFailNamingThePortAndCloseEachListener() throws IOException {
        InetSocketAddress old = leaveClientTimeWait();
        List<ServerSocket> bound = new ArrayList<>();
        assertThatThrownBy(() -> FreshPort.bind(() -> {
            ServerSocket s = offer(old.getPort(), new AtomicInteger());
            bound.add(s);
            return s;
        }, ServerSocket::getLocalPort, ServerSocket::close))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(FreshPort.ATTEMPTS + " bindings")
                .hasMessageContaining("[" + old.getPort() + "]");
        assertThat(bound).hasSize(FreshPort.ATTEMPTS).allMatch(ServerSocket::isClosed);
    }

    @Test
    void chooseNamesAPortNothingHasThatTheServerCanThenBind() throws IOException {
        InetSocketAddress old = leaveClientTimeWait();
        int port = FreshPort.choose(LOOPBACK);
        assertThat(port).isNotEqualTo(old.getPort());
        try (ServerSocket server = new ServerSocket(port, 1, LOOPBACK)) {
            assertThat(server.getLocalPort()).isEqualTo(port);
            assertThat(Kernel.snapshot().countOnLocalPort(TcpState.LISTEN, port)).isEqualTo(1);
        }
    }

    /** A listener bound to {@code port}, the port the kernel could hand out while old sockets point at it. */
    private static ServerSocket offer(int port, AtomicInteger offered) throws IOException {
        offered.incrementAndGet();
        return new ServerSocket(port, 1, LOOPBACK);
    }

    /** Leaves one client TIME_WAIT toward a listener, closes the listener, and returns where it listened. */
    private static InetSocketAddress leaveClientTimeWait() throws IOException {
        InetSocketAddress to;
        try (ServerSocket listener = new ServerSocket(0, 1, LOOPBACK)) {
            to = new InetSocketAddress(LOOPBACK, listener.getLocalPort());
            Socket client = new Socket(LOOPBACK, to.getPort());
            try (Socket accepted = listener.accept(); InputStream in = accepted.getInputStream()) {
                client.close(); // the client closes first: its side keeps TIME_WAIT for 60 s
                assertThat(in.read()).isEqualTo(-1);
            }
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> Kernel.clientTimeWait(to) == 1);
        return to;
    }
}
