package io.github.portkeeper.core;

import io.github.portkeeper.test.FreshPort;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.TallyListener;
import io.github.portkeeper.test.TimeWaitCount;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class CloseOwningSocketFactoryTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private static CloseOwningSocketFactory factory(TallyListener tally, Retirement retirement) {
        return CloseOwningSocketFactory.builder().name("test").retirement(retirement).listener(tally).build();
    }

    @Test
    void socketsWorkAsPlainSocketsAndCloseAfterThePeersFinIsPassive() throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally, Retirement.defaults());
        try (ScriptedServer server = ScriptedServer.builder().closeAfterResponses(1).start()) {
            TimeWaitCount timeWait = TimeWaitCount.toward(server.address());
            Socket s = sockets.createSocket(server.host(), server.port());
            assertThat(ScriptedServer.exchange(s, 41)).isEqualTo(42);
            server.nextEnd(WAIT);
            s.close();

            await().atMost(WAIT).until(() -> tally.closed(Ending.PEER) == 1); // the watcher may have answered first
            assertThat(tally.opened()).isEqualTo(1);
            assertThat(timeWait.newSince()).as("client TIME_WAIT; %s", Kernel.describe(server.address())).isZero();
            assertThat(s.isClosed()).isTrue();
        }
    }

    @Test
    void closedSocketIsHiddenFromItsClientAndClosedPassivelyWhenThePeerClosesLater() throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally, Retirement.defaults());
        try (ScriptedServer server = ScriptedServer.builder().closeAfterIdle(Duration.ofMillis(300)).start()) {
            // The server's port may have been a client port of an earlier connection, whose TIME_WAIT
            // (a server's that closed first, or a client's toward a server once on this port) still
            // points at it: only sockets that were not there now are this test's.
            TimeWaitCount timeWait = TimeWaitCount.toward(server.address());
            Socket s = sockets.createSocket(server.host(), server.port());
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            s.close();

            assertThat(sockets.stats().draining()).isEqualTo(1);
            assertThatThrownBy(s::getInputStream).isInstanceOf(SocketException.class);
            assertThat(server.nextEnd(WAIT).end()).isEqualTo(ScriptedServer.End.SERVER_IDLE_CLOSE);
            await().atMost(WAIT).until(() -> tally.closed(Ending.PEER) == 1);
            assertThat(sockets.stats().draining()).isZero();
            assertThat(timeWait.newSince()).as("client TIME_WAIT; %s", Kernel.describe(server.address())).isZero();
            assertThat(Kernel.clientCloseWait(server.address())).isZero();
        }
    }

    @Test
    void drainTimeoutClosesByTheFallbackAndTheCountMatchesTheKernel() throws Exception {
        Kernel.assumeLinux();
        try (ScriptedServer server = ScriptedServer.start()) {
            TimeWaitCount timeWait = TimeWaitCount.toward(server.address());
            TallyListener resetTally = new TallyListener();
            CloseOwningSocketFactory reset = factory(resetTally, Retirement.awaitPeer(Duration.ofMillis(200)));
            Socket a = reset.createSocket(server.host(), server.port());
            ScriptedServer.exchange(a, 1);
            a.close();
            await().atMost(WAIT).until(() -> resetTally.closed(Ending.RESET) == 1);

            TallyListener localTally = new TallyListener();
            CloseOwningSocketFactory local = factory(localTally, Retirement.awaitPeer(Duration.ofMillis(200)).withFallback(Ending.LOCAL));
            Socket b = local.createSocket(server.host(), server.port());
            ScriptedServer.exchange(b, 1);
            b.close();
            await().atMost(WAIT).until(() -> localTally.closed(Ending.LOCAL) == 1);

            assertThat(localTally.timeWaitCaused()).isEqualTo(1);
            await().atMost(WAIT).until(() -> timeWait.newSince() == 1); // = LOCAL endings counted
        }
    }

    @Test
    void aHalfCloseIsRecordedNotSentSoTheSocketStillEndsByThePolicy() throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally, Retirement.defaults());
        try (ScriptedServer server = ScriptedServer.builder().closeAfterIdle(Duration.ofMillis(300)).start()) {
            TimeWaitCount timeWait = TimeWaitCount.toward(server.address());
            Socket s = sockets.createSocket(server.host(), server.port());
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            s.shutdownOutput(); // as a TLS socket layered on top does after its close_notify
            assertThat(s.isOutputShutdown()).isTrue();
            assertThatThrownBy(() -> s.getOutputStream().write(1)).isInstanceOf(SocketException.class);
            s.close();

            assertThat(server.nextEnd(WAIT).end()).isEqualTo(ScriptedServer.End.SERVER_IDLE_CLOSE);
            await().atMost(WAIT).until(() -> tally.closed(Ending.PEER) == 1);
            assertThat(timeWait.newSince()).as("client TIME_WAIT; %s", Kernel.describe(server.address())).isZero();
        }
    }

    @Test
    void localAndResetPoliciesCloseAtOnce() throws Exception {
        Kernel.assumeLinux();
        try (ScriptedServer server = ScriptedServer.start()) {
            TimeWaitCount timeWait = TimeWaitCount.toward(server.address());
            TallyListener tally = new TallyListener();
            Socket s = factory(tally, Retirement.reset()).createSocket(server.host(), server.port());
            ScriptedServer.exchange(s, 1);
            s.close();
            assertThat(tally.closed(Ending.RESET)).isEqualTo(1);
            Socket t = factory(tally, Retirement.local()).createSocket(server.host(), server.port());
            ScriptedServer.exchange(t, 1);
            t.close();
            assertThat(tally.closed(Ending.LOCAL)).isEqualTo(1);
            // FIN_WAIT_2 until the server's FIN answers ours, then TIME_WAIT
            await().atMost(WAIT).until(() -> timeWait.newSince() == 1);
        }
    }

    @Test
    void peerCloseOfASocketItsClientLeftIdleIsAnsweredWithoutCloseWait() throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally, Retirement.defaults());
        try (ScriptedServer server = ScriptedServer.builder().closeAfterIdle(Duration.ofMillis(300)).start()) {
            TimeWaitCount timeWait = TimeWaitCount.toward(server.address());
            Socket s = sockets.createSocket(server.host(), server.port());
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            server.nextEnd(WAIT);
            long closedAt = System.nanoTime();
            await().atMost(WAIT).until(() -> tally.closed(Ending.PEER) == 1);
            long answeredMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closedAt);

            assertThat(Kernel.clientCloseWait(server.address())).isZero();
            assertThat(tally.closedEvents().get(0).reason()).isEqualTo(CloseReason.PEER_CLOSED);
            assertThat(answeredMillis).as("answered within the watch delay, the tick and a loaded machine's slack").isLessThan(2_000);
            assertThat(s.isClosed()).isTrue();
            assertThat(s.getInputStream().read()).isEqualTo(-1);
            s.close();
            assertThat(tally.closedTotal()).as("the client's close after the peer's adds nothing").isEqualTo(1);
            assertThat(timeWait.newSince()).as("client TIME_WAIT; %s", Kernel.describe(server.address())).isZero();
        }
    }

    @Test
    void bytesTheServerSendsToAnIdleSocketAreKeptForItsClient() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally, Retirement.defaults());
        try (ServerSocket listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50)) {
            Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
            try (Socket peer = listener.accept()) {
                await().atMost(WAIT).until(() -> sockets.stats().idle() == 1); // watched
                peer.getOutputStream().write("hello\n".getBytes(StandardCharsets.US_ASCII));
                await().atMost(WAIT).until(() -> s.getInputStream().available() == 6);
                assertThat(new String(s.getInputStream().readNBytes(6), StandardCharsets.US_ASCII)).isEqualTo("hello\n");
                s.getOutputStream().write('x');
                assertThat(peer.getInputStream().read()).isEqualTo('x');
            }
            await().atMost(WAIT).until(() -> tally.closed(Ending.PEER) == 1);
            s.close();
        }
    }

    @Test
    void closeWhileAnotherThreadIsBlockedReadingAbortsWithResetAndWakesIt() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally, Retirement.defaults());
        try (ServerSocket listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50)) {
            Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
            try (Socket peer = listener.accept()) {
                InputStream in = s.getInputStream();
                java.util.concurrent.atomic.AtomicReference<Object> result = new java.util.concurrent.atomic.AtomicReference<>();
                Thread reader = new Thread(() -> {
                    try {
                        result.set(in.read());
                    } catch (IOException e) {
                        result.set(e);
                    }
                });
                reader.start();
                // Blocked in the kernel or in a poll of it (a native frame of the JDK's socket code on top), not about to read.
                await().atMost(WAIT).until(() -> {
                    StackTraceElement[] stack = reader.getStackTrace();
                    return result.get() == null && stack.length > 0 && stack[0].isNativeMethod()
                            && stack[0].getClassName().startsWith("sun.nio.ch.");
                });
                s.close();
                reader.join(10_000);
                assertThat(reader.isAlive()).as("reader still blocked after the close").isFalse();
                assertThat(result.get()).isInstanceOf(IOException.class);
                assertThat(tally.closed(Ending.RESET)).isEqualTo(1);
                assertThat(peer.getInputStream().read(new byte[1])).isEqualTo(-1);
            } catch (SocketException expectedReset) {
                assertThat(tally.closed(Ending.RESET)).isEqualTo(1);
            }
        }
    }

    @Test
    void aResponseStillStreamingInAtCloseIsResetOnceTheDrainLimitIsPassed() throws Exception {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally, Retirement.defaults());
        try (ServerSocket listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50)) {
            Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
            try (Socket peer = listener.accept()) {
                CompletableFuture<Void> streaming = CompletableFuture.runAsync(() -> {
                    byte[] chunk = new byte[16 * 1024];
                    try {
                        for (int i = 0; i < 4096; i++) { // bounded: 64 MiB at most
                            peer.getOutputStream().write(chunk);
                        }
                    } catch (IOException reset) {
                        // the client reset the stream: what this test expects
                    }
                });
                s.getInputStream().read(new byte[100]);
                s.close();
                await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
                assertThat(tally.closed(Ending.RESET)).isEqualTo(1);
                assertThat(sockets.discardedBytes()).isGreaterThan(64 * 1024);
                streaming.get(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void aFailedConnectIsCountedAsFailed() throws Exception {
        TallyListener tally = new TallyListener();
        java.util.concurrent.atomic.AtomicInteger failed = new java.util.concurrent.atomic.AtomicInteger();
        CloseOwningSocketFactory sockets = factory(tally, Retirement.defaults());
        sockets.addListener(new PoolListener() {
            @Override
            public void connectFailed(Endpoint endpoint, Throwable cause) {
                failed.incrementAndGet();
            }
        });
        int closedPort;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = probe.getLocalPort();
        }
        Socket s = sockets.createSocket();
        assertThatThrownBy(() -> s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), closedPort), 1000))
                .isInstanceOf(IOException.class);
        s.close();
        assertThat(failed.get()).isEqualTo(1);
        assertThat(tally.closedTotal()).isZero();
    }

    @Test
    void settingsAreValidatedWithMessagesNamingTheField() {
        assertThatThrownBy(() -> CloseOwningSocketFactory.builder().maxDraining(-1).build())
                .hasMessage("maxDraining must be at least 0, but was -1");
        assertThatThrownBy(() -> CloseOwningSocketFactory.builder().idleWatchDelay(Duration.ZERO).build())
                .hasMessage("idleWatchDelay must be positive, but was PT0S");
        assertThatThrownBy(() -> CloseOwningSocketFactory.builder().retirement(Retirement.requestPeerClose(Duration.ofSeconds(1))).build())
                .hasMessageStartingWith("retirement must be AWAIT_PEER, RESET or LOCAL, but was REQUEST_PEER_CLOSE");
        assertThatThrownBy(() -> CloseOwningSocketFactory.builder().name(" ").build())
                .hasMessage("name must not be blank, but was ' '");
    }

    @Test
    void aDrainTimeoutTooLongForTheNanosecondClockAwaitsThePeerWithoutFallingBack() throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = factory(tally, Retirement.awaitPeer(Duration.ofSeconds(Long.MAX_VALUE)));
        try (ServerSocket listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50)) {
            Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
            try (Socket peer = listener.accept()) {
                s.getOutputStream().write(1);
                assertThat(peer.getInputStream().read()).isEqualTo(1);
                peer.getOutputStream().write(2);
                assertThat(s.getInputStream().read()).isEqualTo(2);
                s.close();

                // The server closes only now, so the socket is certainly still awaiting it.
                assertThat(sockets.stats().draining()).isEqualTo(1);
                assertThat(tally.closedTotal()).as("no fallback at the close").isZero();
            }
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closed(Ending.PEER)).isEqualTo(1);
            assertThat(sockets.stats().draining()).isZero();
        }
    }

    @Test
    void anIdleWatchDelayTooLongForTheNanosecondClockIsRejectedByBuild() {
        Duration tooLong = Duration.ofSeconds(Long.MAX_VALUE);
        assertThatThrownBy(() -> CloseOwningSocketFactory.builder().idleWatchDelay(tooLong).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("idleWatchDelay must be at most PT2562047H47M16.854775807S, but was " + tooLong);
        assertThat(CloseOwningSocketFactory.builder().idleWatchDelay(Duration.ofNanos(Long.MAX_VALUE)).build()).isNotNull();
    }
}
