package io.github.portkeeper.core;

import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.StandardSocketOptions;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** {@link SocketPool} as a drop-in for a socket per request, against a real loopback server. */
class SocketPoolTest {

    private static final Duration WAIT = Duration.ofSeconds(5);

    private final TallyListener tally = new TallyListener();
    private ScriptedServer server;
    private SocketPool sockets;

    private SocketPool sockets(ScriptedServer server, PoolConfig.Builder config, Duration readTimeout) {
        this.server = server;
        this.sockets = SocketPool.builder()
                .poolConfig(config.listener(tally).build())
                .readTimeout(readTimeout)
                .build();
        return sockets;
    }

    private SocketPool sockets(ScriptedServer server) {
        return sockets(server, PoolConfig.builder(), Duration.ZERO);
    }

    private Socket socket() throws IOException {
        return sockets.socket(server.host(), server.port());
    }

    /** Nothing leaked: no lease outstanding, no CLOSE_WAIT toward the server, nothing left open once closed. */
    @AfterEach
    void nothingLeaked() {
        if (sockets == null) {
            return;
        }
        try {
            assertThat(sockets.pool().stats().active()).as("connections still leased").isZero();
            if (Kernel.isAvailable()) {
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10))
                        .untilAsserted(() -> assertThat(Kernel.clientCloseWait(server.address()))
                                .as(Kernel.describe(server.address())).isZero());
            }
        } finally {
            sockets.close();
            server.close();
        }
        if (Kernel.isAvailable()) {
            assertThat(Kernel.clientCloseWait(server.address())).as(Kernel.describe(server.address())).isZero();
            assertThat(Kernel.clientEstablished(server.address())).as("sockets left open after close: " + Kernel.describe(server.address())).isZero();
        }
    }

    @Test
    void aStreamTakenBeforeShutdownInputReadsEndOfStreamAfterItEvenBeforeItsFirstRead() throws Exception {
        sockets(ScriptedServer.start());
        Socket s = socket();
        InputStream in = s.getInputStream();
        s.shutdownInput();
        assertThat(in.read()).isEqualTo(-1);
        assertThatThrownBy(s::getInputStream).isInstanceOf(SocketException.class).hasMessage("Socket input is shutdown");
        s.close();
        assertThat(tally.closed(CloseReason.BROKEN)).isEqualTo(1);
    }

    @Test
    void thousandExchangesAtConcurrencyEightOpenNoMoreConnectionsThanTheLimit() throws Exception {
        int limit = 4;
        int exchanges = 1_000;
        sockets(ScriptedServer.start(), PoolConfig.builder().maxPerEndpoint(limit).maxTotal(limit), Duration.ofSeconds(5));
        AtomicInteger next = new AtomicInteger();
        AtomicInteger wrong = new AtomicInteger();
        ExecutorService workers = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < 8; w++) {
                done.add(workers.submit(() -> {
                    int i;
                    while ((i = next.getAndIncrement()) < exchanges) {
                        try (Socket s = socket()) {
                            if (ScriptedServer.exchange(s, i) != i + 1) {
                                wrong.incrementAndGet();
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            workers.shutdownNow();
            assertThat(workers.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(wrong).hasValue(0);
        assertThat(server.requests()).isEqualTo(exchanges);
        assertThat(server.accepted()).as("connections the server accepted").isBetween(1, limit);
        assertThat(tally.leases()).isEqualTo(exchanges);
        assertThat(tally.opened()).isEqualTo(server.accepted());
        assertThat(tally.closedTotal()).as("no connection was lost on the way").isZero();
    }

    @Test
    void closingTheSocketGivesItBackForTheNextCaller() throws IOException {
        sockets(ScriptedServer.start());
        Socket first = socket();
        int port = first.getLocalPort();
        assertThat(ScriptedServer.exchange(first, 41)).isEqualTo(42);
        first.close();
        first.close(); // idempotent

        assertThat(first.isClosed()).isTrue();
        assertThatThrownBy(first::getInputStream).isInstanceOf(SocketException.class);
        assertThat(sockets.pool().stats().idle()).isEqualTo(1);
        try (Socket second = socket()) {
            assertThat(second.getLocalPort()).as("the same connection, reused").isEqualTo(port);
            assertThat(ScriptedServer.exchange(second, 1)).isEqualTo(2);
        }
        assertThat(server.accepted()).isEqualTo(1);
    }

    @Test
    void ioErrorMarksTheSocketBrokenSoItIsNeverReused() throws IOException {
        sockets(ScriptedServer.start());
        int port;
        try (Socket s = socket()) {
            port = s.getLocalPort();
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            server.resetNextRequest();
            assertThatThrownBy(() -> ScriptedServer.exchange(s, 2)).isInstanceOf(IOException.class);
        }
        assertThat(tally.closedEvents()).singleElement()
                .satisfies(c -> assertThat(c.reason()).isEqualTo(CloseReason.BROKEN))
                .satisfies(c -> assertThat(c.ending()).as("the server reset it; no TIME_WAIT of ours").isNotEqualTo(Ending.LOCAL));
        try (Socket s = socket()) {
            assertThat(s.getLocalPort()).as("a fresh connection, not the broken one").isNotEqualTo(port);
            assertThat(ScriptedServer.exchange(s, 5)).isEqualTo(6);
        }
        assertThat(server.accepted()).isEqualTo(2);
    }

    @Test
    void readingEndOfStreamMarksTheSocketBroken() throws IOException {
        sockets(ScriptedServer.builder().closeOnGoodbye("QUIT").start());
        int port;
        try (Socket s = socket()) {
            port = s.getLocalPort();
            s.getOutputStream().write("QUIT".getBytes(StandardCharsets.US_ASCII));
            assertThat(s.getInputStream().read()).as("the server closed").isEqualTo(-1);
        }
        assertThat(tally.closedEvents()).singleElement()
                .satisfies(c -> assertThat(c.reason()).isEqualTo(CloseReason.BROKEN))
                .satisfies(c -> assertThat(c.ending()).as("the server's FIN came first").isEqualTo(Ending.PEER));
        try (Socket s = socket()) {
            assertThat(s.getLocalPort()).isNotEqualTo(port);
            assertThat(ScriptedServer.exchange(s, 7)).isEqualTo(8);
        }
    }

    @Test
    void closingEitherStreamGivesTheSocketBack() throws IOException {
        sockets(ScriptedServer.start());
        Socket s = socket();
        int port = s.getLocalPort();
        InputStream in = s.getInputStream();
        assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
        in.close();
        assertThat(s.isClosed()).isTrue();
        assertThat(sockets.pool().stats().active()).isZero();
        assertThat(sockets.pool().stats().idle()).isEqualTo(1);

        Socket again = socket();
        assertThat(again.getLocalPort()).isEqualTo(port);
        OutputStream out = again.getOutputStream();
        assertThat(ScriptedServer.exchange(again, 2)).isEqualTo(3);
        out.close();
        assertThat(again.isClosed()).isTrue();
        assertThat(sockets.pool().stats().active()).isZero();
        try (Socket third = socket()) {
            assertThat(third.getLocalPort()).isEqualTo(port);
        }
        assertThat(server.accepted()).isEqualTo(1);
    }

    @Test
    void soLingerIsRefusedBecauseThePoolOwnsHowConnectionsClose() throws IOException {
        sockets(ScriptedServer.start());
        try (Socket s = socket()) {
            assertThatThrownBy(() -> s.setSoLinger(true, 0))
                    .isInstanceOf(SocketException.class).hasMessageContaining("SO_LINGER");
            assertThatThrownBy(() -> s.setOption(StandardSocketOptions.SO_LINGER, 0))
                    .isInstanceOf(SocketException.class).hasMessageContaining("SO_LINGER");
            assertThat(s.getSoLinger()).as("linger as the pool holds it: 0, so a close the pool does not make (an interrupt) resets").isZero();
            assertThat(ScriptedServer.exchange(s, 1)).as("still usable").isEqualTo(2);
        }
        assertThat(tally.closedTotal()).isZero();
    }

    @Test
    void readTimeoutSetByACallerIsRestoredWhenTheSocketIsGivenBack() throws IOException {
        sockets(ScriptedServer.start(), PoolConfig.builder(), Duration.ofSeconds(3));
        int port;
        try (Socket s = socket()) {
            port = s.getLocalPort();
            assertThat(s.getSoTimeout()).isEqualTo(3_000);
            s.setSoTimeout(1_000); // differs from the pool's 3 s; long enough for a loaded machine
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
        }
        try (Socket s = socket()) {
            assertThat(s.getLocalPort()).isEqualTo(port);
            assertThat(s.getSoTimeout()).as("the pool's read timeout, not the last caller's").isEqualTo(3_000);
        }
    }

    @Test
    void newSocketsHaveTcpNoDelayAndKeepAliveOnByDefaultAndOffWhenTurnedOff() throws IOException {
        sockets(ScriptedServer.start());
        try (Socket s = socket()) {
            assertThat(s.getTcpNoDelay()).as("TCP_NODELAY by default").isTrue();
            assertThat(s.getKeepAlive()).as("SO_KEEPALIVE by default").isTrue();
            assertThat(s.getOption(StandardSocketOptions.TCP_NODELAY)).isTrue();
        }
        try (SocketPool off = SocketPool.builder().tcpNoDelay(false).keepAlive(false).build();
             Socket s = off.socket(server.host(), server.port())) {
            assertThat(s.getTcpNoDelay()).as("TCP_NODELAY turned off").isFalse();
            assertThat(s.getKeepAlive()).as("SO_KEEPALIVE turned off").isFalse();
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
        }
    }

    @Test
    void timeoutsOutOfRangeAreRefusedByBuildNamingTheSetting() {
        assertThatThrownBy(() -> SocketPool.builder().connectTimeout(Duration.ZERO).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("connectTimeout must be positive, but was PT0S");
        assertThatThrownBy(() -> SocketPool.builder().connectTimeout(Duration.ofMillis(-1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("connectTimeout must be positive, but was PT-0.001S");
        assertThatThrownBy(() -> SocketPool.builder().connectTimeout(null).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("connectTimeout must be positive, but was null");
        assertThatThrownBy(() -> SocketPool.builder().readTimeout(Duration.ofSeconds(-1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("readTimeout must not be negative, but was PT-1S");
        assertThatThrownBy(() -> SocketPool.builder().readTimeout(null).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("readTimeout must not be negative, but was null");
        try (SocketPool zeroReadTimeout = SocketPool.builder().readTimeout(Duration.ZERO).build()) {
            assertThat(zeroReadTimeout.pool().isClosed()).isFalse();
        }
    }

    @Test
    void timeoutsTooLongForSoTimeoutAreCappedAtItsLargestValue() throws IOException {
        server = ScriptedServer.start();
        Duration practicallyForever = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
        sockets = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally).build())
                .connectTimeout(practicallyForever).readTimeout(practicallyForever).build();
        try (Socket s = socket()) {
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            assertThat(s.getSoTimeout()).isEqualTo(Integer.MAX_VALUE);
        }
    }
}
