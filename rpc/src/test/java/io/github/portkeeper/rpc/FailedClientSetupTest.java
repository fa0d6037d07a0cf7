package io.github.portkeeper.rpc;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.test.FreshPort;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A connection whose client could not be set up after the TCP handshake (the factory threw) is
 * counted a failed connect, never opened: no TIME_WAIT is counted, so none may exist. Its close
 * must be an RST, whatever the server does next.
 */
@Timeout(60)
class FailedClientSetupTest {

    private static final Duration WAIT = Duration.ofSeconds(20);

    private final TallyListener tally = new TallyListener();
    private ServerSocket listener;
    private SocketClientPool<Object> clients;

    @AfterEach
    void tearDown() throws IOException {
        if (clients != null) {
            clients.close();
        }
        if (listener != null) {
            listener.close();
        }
    }

    @Test
    void aClientFactoryThatThrowsLeavesNoTimeWaitAndCountsNone() throws Exception {
        Kernel.assumeLinux();
        listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 1);
        InetSocketAddress server = new InetSocketAddress(InetAddress.getLoopbackAddress(), listener.getLocalPort());
        CountDownLatch serverClosed = new CountDownLatch(1);
        Thread serverThread = new Thread(() -> {
            // Reads until the client's close arrives (end of stream, or a reset), then closes.
            try (Socket accepted = listener.accept()) {
                accepted.setSoTimeout((int) WAIT.toMillis());
                InputStream in = accepted.getInputStream();
                while (in.read() >= 0) {
                    // nothing is expected; a byte would only be skipped
                }
            } catch (IOException e) {
                // a reset ends the read too
            } finally {
                serverClosed.countDown();
            }
        }, "failed-setup-server");
        serverThread.setDaemon(true);
        serverThread.start();
        AtomicInteger localPort = new AtomicInteger();
        clients = SocketClientPool.builder(socket -> {
                    localPort.set(socket.getLocalPort());
                    throw new IOException("handshake refused");
                })
                .poolConfig(PoolConfig.builder().name("failing-setup").listener(tally).build())
                .build();

        assertThatThrownBy(() -> clients.borrow(server.getHostString(), server.getPort()))
                .hasRootCauseMessage("handshake refused");
        assertThat(serverClosed.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("the server saw the client go and closed").isTrue();

        assertThat(localPort.get()).as("the factory saw a connected socket").isPositive();
        assertThat(Kernel.clientPorts(server, TcpState.TIME_WAIT)).as("client TIME_WAIT: %s", Kernel.describe(server))
                .doesNotContain(localPort.get());
        assertThat(Kernel.clientClosedFirst(server)).as("client sockets that closed first: %s", Kernel.describe(server)).isZero();
        assertThat(tally.timeWaitCaused()).as("timewait.caused: %s", tally).isZero();
        assertThat(tally.connectFailed()).isEqualTo(1);
    }

    @Test
    void aClientFactoryThatThrowsAnErrorStillClosesTheConnection() throws Exception {
        listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 1);
        CountDownLatch serverSawClose = new CountDownLatch(1);
        Thread serverThread = new Thread(() -> {
            // Reads until the client's close arrives (end of stream, or a reset).
            try (Socket accepted = listener.accept()) {
                accepted.setSoTimeout((int) WAIT.toMillis());
                InputStream in = accepted.getInputStream();
                while (in.read() >= 0) {
                    // nothing is expected; a byte would only be skipped
                }
                serverSawClose.countDown();
            } catch (SocketTimeoutException e) {
                // the client kept the connection open: the latch stays up
            } catch (IOException e) {
                serverSawClose.countDown(); // a reset
            }
        }, "error-setup-server");
        serverThread.setDaemon(true);
        serverThread.start();
        clients = SocketClientPool.builder(socket -> {
                    throw new AssertionError("client factory bug");
                })
                .poolConfig(PoolConfig.builder().name("error-setup").maxPerEndpoint(1)
                        .leaseTimeout(Duration.ofMillis(300)).build())
                .build();

        assertThatThrownBy(() -> clients.borrow("127.0.0.1", listener.getLocalPort()))
                .hasStackTraceContaining("client factory bug");
        assertThat(serverSawClose.await(WAIT.toMillis(), TimeUnit.MILLISECONDS))
                .as("the server saw the connection closed after the factory's Error").isTrue();
    }

    @Test
    void aBorrowAfterTheClientFactoryThrewAnErrorGetsAClient() throws Exception {
        listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50);
        AssertionError bug = new AssertionError("client factory bug");
        AtomicInteger calls = new AtomicInteger();
        clients = SocketClientPool.<Object>builder(socket -> {
                    if (calls.incrementAndGet() == 1) {
                        throw bug;
                    }
                    return socket;
                })
                .poolConfig(PoolConfig.builder().name("error-once").maxPerEndpoint(1)
                        .leaseTimeout(Duration.ofMillis(300)).listener(tally).build())
                .build();

        assertThatThrownBy(() -> clients.borrow("127.0.0.1", listener.getLocalPort())).isSameAs(bug);

        // The failed setup gave its slot back: with one connection allowed, the next borrow opens one.
        try (PooledClient<Object> client = clients.borrow("127.0.0.1", listener.getLocalPort())) {
            assertThat(client.get()).isInstanceOf(Socket.class);
        }
        assertThat(calls.get()).isEqualTo(2);
        assertThat(tally.connectFailed()).isEqualTo(1);
        assertThat(tally.opened()).isEqualTo(1);
    }
}
