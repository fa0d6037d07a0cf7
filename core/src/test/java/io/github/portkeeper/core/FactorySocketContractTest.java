package io.github.portkeeper.core;

import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The factory's sockets keep the {@link Socket} contract where the factory does not deliberately
 * change it: what a close from another thread throws, what counts as a failed connect, what is
 * readable after a close or a shutdown.
 */
class FactorySocketContractTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private static CloseOwningSocketFactory factory(TallyListener tally) {
        return CloseOwningSocketFactory.builder().name("contract").listener(tally).build();
    }

    /** A blocking call on another thread: its result or its exception. */
    private static final class Blocked {
        final AtomicReference<Object> result = new AtomicReference<>();
        final Thread thread;

        Blocked(IoCall call) {
            thread = new Thread(() -> {
                try {
                    result.set(call.run());
                } catch (IOException e) {
                    result.set(e);
                }
            });
            thread.start();
            // Blocked in the kernel or in a poll of it (a native frame of the JDK's socket code on top).
            await().atMost(WAIT).until(() -> {
                StackTraceElement[] stack = thread.getStackTrace();
                return result.get() == null && stack.length > 0 && stack[0].isNativeMethod()
                        && stack[0].getClassName().startsWith("sun.nio.ch.");
            });
        }

        Object awaitEnd() throws InterruptedException {
            thread.join(WAIT.toMillis());
            assertThat(thread.isAlive()).as("still blocked after the close").isFalse();
            return result.get();
        }
    }

    private interface IoCall {
        Object run() throws IOException;
    }

    @Test
    void aCloseFromAnotherThreadWakesABlockedReaderWithASocketExceptionAsAPlainSocketDoes() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally);
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
            try (Socket peer = listener.accept()) {
                InputStream in = s.getInputStream();
                Blocked reader = new Blocked(in::read);
                s.close();
                assertThat(reader.awaitEnd()).isExactlyInstanceOf(SocketException.class);
                assertThat(tally.closed(Ending.RESET, CloseReason.BROKEN)).isEqualTo(1);
                assertThatThrownBy(in::read).isInstanceOf(SocketException.class).hasMessage("Socket is closed");
            }
        }
    }

    @Test
    void aCloseFromAnotherThreadWakesABlockedWriterWithASocketExceptionAsAPlainSocketDoes() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally);
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
            try (Socket peer = listener.accept()) {
                OutputStream out = s.getOutputStream();
                byte[] chunk = new byte[64 * 1024];
                Blocked writer = new Blocked(() -> {
                    for (int i = 0; i < 100_000; i++) { // bounded: the peer never reads, so it blocks long before
                        out.write(chunk);
                    }
                    return "wrote everything";
                });
                s.close();
                assertThat(writer.awaitEnd()).isExactlyInstanceOf(SocketException.class);
                assertThat(tally.closed(Ending.RESET, CloseReason.BROKEN)).isEqualTo(1);
            }
        }
    }

    @Test
    void connectingAConnectedSocketAgainFailsWithoutCountingAFailedConnect() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally);
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            InetSocketAddress address = new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
            Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
            try (Socket peer = listener.accept()) {
                assertThatThrownBy(() -> s.connect(address)).isInstanceOf(SocketException.class).hasMessage("already connected");
                assertThatThrownBy(() -> s.connect(address, 1000)).isInstanceOf(SocketException.class).hasMessage("already connected");
                assertThat(tally.connectFailed()).isZero();
                assertThat(tally.opened()).isEqualTo(1);
                s.getOutputStream().write('x');
                assertThat(peer.getInputStream().read()).as("the connection is still the open one").isEqualTo('x');
                s.close();
            }
        }
    }

    @Test
    void aConnectWithInvalidArgumentsFailsAsAPlainSocketsDoesWithoutCountingAFailedConnect() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally);
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            InetSocketAddress address = new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
            Socket s = sockets.createSocket();
            assertThatThrownBy(() -> s.connect(address, -1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("connect: timeout can't be negative");
            assertThatThrownBy(() -> s.connect(null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("connect: The address can't be null");
            assertThat(tally.connectFailed()).isZero();
            s.connect(address, 1000); // the socket is still usable
            assertThat(tally.opened()).isEqualTo(1);
            s.close();
            Socket closed = sockets.createSocket();
            closed.close();
            assertThatThrownBy(() -> closed.connect(address)).isInstanceOf(SocketException.class).hasMessage("Socket is closed");
            assertThat(tally.connectFailed()).isZero();
        }
    }

    @Test
    void bytesReadAheadOnASocketThePeerClosedWhileIdleAreDiscardedAndCountedWhenItsClientClosesIt() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally);
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
            try (Socket peer = listener.accept()) {
                await().atMost(WAIT).until(() -> sockets.stats().idle() == 1); // watched
                peer.getOutputStream().write("0123456789".getBytes(StandardCharsets.US_ASCII));
            }
            await().atMost(WAIT).until(s::isClosed); // the peer's FIN answered by the watcher
            InputStream in = s.getInputStream();
            s.close();
            assertThatThrownBy(in::read).isInstanceOf(SocketException.class).hasMessage("Socket is closed");
            assertThatThrownBy(in::available).isInstanceOf(SocketException.class).hasMessage("Socket is closed");
            assertThat(sockets.discardedBytes()).isEqualTo(10);
            assertThat(tally.closed(Ending.PEER, CloseReason.PEER_CLOSED)).isEqualTo(1);
        }
    }

    @Test
    void streamsOfAnUnconnectedSocketAreRefusedAsAPlainSocketsAre() throws Exception {
        Socket s = factory(new TallyListener()).createSocket();
        assertThatThrownBy(s::getInputStream).isInstanceOf(SocketException.class).hasMessage("Socket is not connected");
        assertThatThrownBy(s::getOutputStream).isInstanceOf(SocketException.class).hasMessage("Socket is not connected");
        s.close();
    }

    @Test
    void afterShutdownInputReadsGiveEndOfStreamEvenOverReadAheadBytesAndTheStreamIsNoLongerHandedOut() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally);
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
            try (Socket peer = listener.accept()) {
                InputStream in = s.getInputStream();
                await().atMost(WAIT).until(() -> sockets.stats().idle() == 1); // watched
                peer.getOutputStream().write("0123456789".getBytes(StandardCharsets.US_ASCII));
                await().atMost(WAIT).until(() -> in.available() == 10); // read ahead by the watcher
                s.shutdownInput();
                assertThat(in.available()).isZero();
                assertThat(in.read()).isEqualTo(-1);
                assertThatThrownBy(s::getInputStream).isInstanceOf(SocketException.class).hasMessage("Socket input is shutdown");
                s.shutdownOutput();
                assertThatThrownBy(s::getOutputStream).isInstanceOf(SocketException.class).hasMessage("Socket output is shutdown");
                s.close();
                assertThat(sockets.discardedBytes()).as("the bytes the client never read").isGreaterThanOrEqualTo(10);
            }
        }
    }
}
