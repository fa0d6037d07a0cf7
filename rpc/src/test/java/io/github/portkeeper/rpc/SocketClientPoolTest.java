package io.github.portkeeper.rpc;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.ConnectFailedException;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.rpc.testing.FrameServer;
import io.github.portkeeper.rpc.testing.FrameServer.Fault;
import io.github.portkeeper.rpc.testing.FrameServer.Framing;
import io.github.portkeeper.rpc.testing.Leaks;
import io.github.portkeeper.test.FreshPort;
import io.github.portkeeper.test.TallyListener;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** Pooling a hand-written blocking client built around a {@link Socket}. */
class SocketClientPoolTest {

    private FrameServer server;
    private SocketClientPool<LineClient> clients;
    private Endpoint endpoint;
    private final TallyListener tally = new TallyListener();
    private final List<LineClient> built = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        server = FrameServer.start(Framing.LINES);
        endpoint = Endpoint.of(server.host(), server.port());
        clients = builder().build();
    }

    /** The pool under test's settings: a goodbye, at most 4 connections, every client kept in {@link #built}. */
    private SocketClientPool.Builder<LineClient> builder() {
        return SocketClientPool.builder(socket -> {
                    LineClient c = new LineClient(socket);
                    synchronized (built) {
                        built.add(c);
                    }
                    return c;
                })
                .goodbye(LineClient::bye)
                .poolConfig(PoolConfig.builder().name("line-clients").maxPerEndpoint(4).listener(tally).build());
    }

    @AfterEach
    void stop() throws Exception {
        Leaks.assertNoneAndClose(clients.pool(), clients, server);
    }

    @Test
    void callsInSequenceReuseOneConnectionAndOneClient() throws IOException {
        for (int i = 0; i < 100; i++) {
            try (PooledClient<LineClient> c = clients.borrow(server.host(), server.port())) {
                assertThat(c.isReused()).isEqualTo(i > 0);
                assertThat(c.get().call("hello " + i)).isEqualTo("hello " + i);
            }
        }
        assertThat(server.accepted()).isEqualTo(1);
        assertThat(tally.opened()).isEqualTo(1);
        assertThat(built).hasSize(1);
    }

    @Test
    void concurrentCallsUseAtMostTheLimitOfConnections() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> results = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int thread = t;
            results.add(pool.submit(() -> {
                go.await();
                for (int i = 0; i < 250; i++) {
                    try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
                        String request = "t" + thread + "-" + i;
                        assertThat(c.get().call(request)).isEqualTo(request);
                    }
                }
                return null;
            }));
        }
        go.countDown();
        pool.shutdown();
        assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
        for (Future<?> r : results) {
            r.get();
        }
        assertThat(server.served()).hasSize(1000);
        assertThat(server.accepted()).isBetween(1, 4);
        assertThat(tally.reused()).isGreaterThanOrEqualTo(1000 - 4);
    }

    @Test
    void retirementSendsTheClientsGoodbyeAndTheServerClosesFirst() throws IOException {
        assertThat(clients.pool().config().retirement().policy()).isEqualTo(Retirement.Policy.REQUEST_PEER_CLOSE);
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            assertThat(c.get().call("last")).isEqualTo("last");
            c.retire();
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(server.goodbyes()).isEqualTo(1);
            assertThat(tally.closed(Ending.PEER, CloseReason.RETIRED)).isEqualTo(1);
        });
        assertThat(clients.pool().stats().draining()).isZero();
    }

    @Test
    void aClientIsUsableRejectsIsNotLentAgainAndLeavesByTheRetirementPolicy() throws IOException {
        AtomicReference<LineClient> unusable = new AtomicReference<>();
        clients.close();
        clients = builder().isUsable(c -> c != unusable.get()).build();
        LineClient first;
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            first = c.get();
            assertThat(first.call("before")).isEqualTo("before");
        }
        unusable.set(first);

        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            assertThat(c.isReused()).as("a new connection, not the rejected one").isFalse();
            assertThat(c.get()).isNotSameAs(first);
            assertThat(c.get().call("after")).isEqualTo("after");
        }
        assertThat(server.accepted()).isEqualTo(2);
        assertThat(built).hasSize(2);
        // Retired, not discarded: the goodbye goes out and the server closes first (no reset, no TIME_WAIT here).
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(server.goodbyes()).isEqualTo(1);
            assertThat(tally.closed(Ending.PEER, CloseReason.VALIDATION_FAILED)).isEqualTo(1);
        });
        assertThat(tally.closed(Ending.RESET)).isZero();
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            assertThat(c.isReused()).as("the usable client is lent again").isTrue();
            assertThat(c.get()).isSameAs(built.get(1));
        }
    }

    @Test
    void aClientThatHitTheEndOfStreamIsDiscardedAndTheNextBorrowGetsAFreshConnection() throws IOException {
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            c.get().call("warm-up");
        }
        server.inject(Fault.CLOSE_BEFORE_RESPONSE);
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            assertThat(c.isReused()).isTrue();
            assertThatThrownBy(() -> c.get().call("hit")).isInstanceOf(EOFException.class);
        }
        assertThat(tally.closed(Ending.PEER, CloseReason.BROKEN)).isEqualTo(1);
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            assertThat(c.isReused()).isFalse();
            assertThat(c.get().call("after")).isEqualTo("after");
        }
        assertThat(server.accepted()).isEqualTo(2);
    }

    @Test
    void aServerThatClosesAfterItsAnswerEndsThePeersWayAndTheRequestCountsAsAvoided() throws IOException {
        PoolMetrics metrics = new PoolMetrics(clients.pool());
        metrics.bindTo(new SimpleMeterRegistry());
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            assertThat(c.get().call("first")).isEqualTo("first");
        }
        server.inject(Fault.ANSWER_THEN_CLOSE);
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            assertThat(c.isReused()).isTrue();
            assertThat(c.get().call("last")).isEqualTo("last");
            assertThat(c.get().socket.getInputStream().read()).as("the server closed after its answer").isEqualTo(-1);
            c.get().socket.close(); // as a client does at the end of stream
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> tally.closedTotal() == 1);

        assertThat(metrics.timeWaitAvoided()).as("avoided after two requests served").isEqualTo(2);
        assertThat(tally.closed(Ending.PEER, CloseReason.PEER_CLOSED)).isEqualTo(1);
        assertThat(server.clientTimeWaitSinceStart()).isEmpty();
    }

    @Test
    void aResetTheClientsWriteSawIsRecordedAsAnAbortNotAsThePeersClose() throws IOException {
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            assertThat(c.get().call("first")).isEqualTo("first");
            server.inject(Fault.RESET);
            OutputStream out = c.get().socket.getOutputStream();
            out.write("reset me\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
            await().atMost(Duration.ofSeconds(5)).until(() -> server.openConnections() == 0);
            assertThatThrownBy(() -> {
                out.write("into the reset\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
            }).isInstanceOf(IOException.class);
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closedEvents()).singleElement().satisfies(e -> {
            assertThat(e.ending()).isEqualTo(Ending.ABORTED);
            assertThat(e.reason()).isEqualTo(CloseReason.BROKEN);
        });
    }

    @Test
    void aClientMarkedBrokenIsResetNotReused() throws IOException {
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            c.get().call("x");
            c.markBroken();
        }
        assertThat(tally.closed(Ending.RESET, CloseReason.BROKEN)).isEqualTo(1);
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            assertThat(c.isReused()).isFalse();
        }
    }

    @Test
    void theSocketRefusesWhatWouldMakeThisHostCloseFirst() throws IOException {
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            Socket s = c.get().socket;
            assertThatThrownBy(() -> s.setSoLinger(true, 0)).isInstanceOf(SocketException.class);
            assertThatThrownBy(s::shutdownOutput).isInstanceOf(SocketException.class);
            assertThat(s.getChannel()).isNull();
            assertThat(c.get().call("still fine")).isEqualTo("still fine");
        }
        assertThat(tally.closedEvents()).isEmpty();
    }

    @Test
    void aClientThatClosesItsSocketGetsItsConnectionResetNotClosedByFin() throws IOException {
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            c.get().call("x");
            c.get().socket.close();
        }
        assertThat(tally.closed(Ending.RESET, CloseReason.BROKEN)).isEqualTo(1);
    }

    @Test
    void aCloseOfTheSocketFromAnotherThreadWakesTheClientsBlockedReadWithASocketExceptionAndResetsTheConnection() throws Exception {
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            LineClient client = c.get();
            server.inject(Fault.HELD); // no reply until released: the call blocks in its read
            AtomicReference<Object> result = new AtomicReference<>();
            Thread caller = new Thread(() -> {
                try {
                    result.set(client.call("never answered"));
                } catch (IOException e) {
                    result.set(e);
                }
            });
            caller.start();
            // Blocked in the kernel or in a poll of it (a native frame of the JDK's socket code on top).
            await().atMost(Duration.ofSeconds(10)).until(() -> {
                StackTraceElement[] stack = caller.getStackTrace();
                return result.get() == null && stack.length > 0 && stack[0].isNativeMethod()
                        && stack[0].getClassName().startsWith("sun.nio.ch.");
            });
            client.socket.close();
            caller.join(10_000);
            assertThat(caller.isAlive()).as("the call is still blocked after the socket's close").isFalse();
            assertThat(result.get()).isExactlyInstanceOf(SocketException.class);
            assertThat(client.socket.isClosed()).isTrue();
            assertThatThrownBy(() -> client.call("after close")).isInstanceOf(SocketException.class).hasMessage("Socket is closed");
            assertThatThrownBy(client.socket::getInputStream).isInstanceOf(SocketException.class).hasMessage("Socket is closed");
        }
        server.releaseHeld();
        assertThat(tally.closed(Ending.RESET, CloseReason.BROKEN)).isEqualTo(1);
        assertThat(tally.closedTotal()).isEqualTo(1);
    }

    @Test
    void aClientThatClosesItsSocketCannotUseItAfterwards() throws IOException {
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            assertThat(c.get().call("x")).isEqualTo("x");
            c.get().socket.close();
            assertThatThrownBy(() -> c.get().call("y")).isInstanceOf(SocketException.class).hasMessage("Socket is closed");
        }
        assertThat(tally.closed(Ending.RESET, CloseReason.BROKEN)).isEqualTo(1);
    }

    @Test
    void aReadTimeoutTheClientFactorySetHoldsForEveryBorrowNotOnlyTheFirst() throws Exception {
        try (SocketClientPool<LineClient> pool = SocketClientPool.builder(socket -> {
                    socket.setSoTimeout(200); // as legacy clients do in their constructor
                    return new LineClient(socket);
                }).build()) {
            try (PooledClient<LineClient> c = pool.borrow(endpoint)) {
                assertThat(c.get().call("first")).isEqualTo("first");
            }
            try (PooledClient<LineClient> c = pool.borrow(endpoint)) {
                assertThat(c.isReused()).isTrue();
                assertThat(c.get().socket.getSoTimeout()).as("SO_TIMEOUT on the second borrow, in ms").isEqualTo(200);
                server.inject(Fault.STALL);
                assertTimeoutPreemptively(Duration.ofSeconds(10), () ->
                        assertThatThrownBy(() -> c.get().call("stalled")).isInstanceOf(SocketTimeoutException.class));
            }
        }
    }

    @Test
    void aClientFactoryWaitingForAGreetingThatNeverComesFailsTheBorrowAfterTheConnectTimeout() throws Exception {
        // Connects complete in the listener's backlog; nothing is ever accepted, so nothing is written.
        try (ServerSocket silent = FreshPort.listen(InetAddress.getLoopbackAddress(), 8);
             SocketClientPool<LineClient> pool = SocketClientPool.builder(socket -> {
                         if (socket.getInputStream().read() < 0) { // the greeting
                             throw new EOFException("no greeting");
                         }
                         return new LineClient(socket);
                     })
                     .connectTimeout(Duration.ofMillis(300))
                     .build()) {
            Endpoint quiet = Endpoint.of("127.0.0.1", silent.getLocalPort());
            long start = System.nanoTime();
            assertTimeoutPreemptively(Duration.ofSeconds(20), () ->
                    assertThatThrownBy(() -> pool.borrow(quiet))
                            .isInstanceOf(ConnectFailedException.class)
                            .hasRootCauseInstanceOf(SocketTimeoutException.class));
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("borrow took").isGreaterThanOrEqualTo(Duration.ofMillis(300));
            assertThat(pool.pool().stats(quiet).active()).isZero();
        }
    }

    @Test
    void withoutAReadTimeoutABorrowedClientHasNoneAfterItsHandshake() throws IOException {
        try (SocketClientPool<LineClient> pool = SocketClientPool.builder(LineClient::new)
                .connectTimeout(Duration.ofMillis(700))
                .build()) {
            try (PooledClient<LineClient> c = pool.borrow(endpoint)) {
                assertThat(c.get().socket.getSoTimeout()).as("SO_TIMEOUT of a new connection, in ms").isZero();
                assertThat(c.get().call("first")).isEqualTo("first");
            }
            try (PooledClient<LineClient> c = pool.borrow(endpoint)) {
                assertThat(c.isReused()).isTrue();
                assertThat(c.get().socket.getSoTimeout()).as("SO_TIMEOUT of a reused connection, in ms").isZero();
            }
        }
    }

    @Test
    void aSubMillisecondReadTimeoutIsRoundedUpToOneMillisecondNotTurnedIntoNoTimeout() throws IOException {
        try (SocketClientPool<LineClient> pool = SocketClientPool.builder(LineClient::new)
                .readTimeout(Duration.ofNanos(500_000))
                .build()) {
            try (PooledClient<LineClient> c = pool.borrow(endpoint)) {
                assertThat(c.get().socket.getSoTimeout()).as("SO_TIMEOUT of a new connection, in ms").isEqualTo(1);
                c.get().socket.setSoTimeout(0); // the client changes it; the pool restores it on give-back
            }
            try (PooledClient<LineClient> c = pool.borrow(endpoint)) {
                assertThat(c.isReused()).isTrue();
                assertThat(c.get().socket.getSoTimeout()).as("SO_TIMEOUT restored on give-back, in ms").isEqualTo(1);
                server.inject(Fault.STALL);
                assertThatThrownBy(() -> c.get().call("stalled")).isInstanceOf(SocketTimeoutException.class);
            }
        }
    }

    @Test
    void socketTimeoutsTooLongForTheSocketAreTakenAsTheLongestItAccepts() throws IOException {
        Duration forever = Duration.ofSeconds(Long.MAX_VALUE);
        try (SocketClientPool<LineClient> pool = SocketClientPool.builder(LineClient::new)
                .goodbye(LineClient::bye)
                .connectTimeout(forever)
                .readTimeout(forever)
                .goodbyeTimeout(forever)
                .build();
             PooledClient<LineClient> c = pool.borrow(endpoint)) {
            assertThat(c.get().socket.getSoTimeout()).as("SO_TIMEOUT, in ms").isEqualTo(Integer.MAX_VALUE);
            assertThat(c.get().call("still fine")).isEqualTo("still fine");
        }
    }

    @Test
    void aDrainTimeoutTooLongForTheClockIsTakenAsPracticallyForeverAsCoreTakesIt() throws IOException {
        Duration forever = Duration.ofSeconds(Long.MAX_VALUE);
        try (SocketClientPool<LineClient> explicit = SocketClientPool.builder(LineClient::new)
                .retirement(Retirement.awaitPeer(forever)).build()) {
            assertThat(explicit.pool().config().retirement().drainTimeout()).isEqualTo(forever);
        }
        clients.close();
        clients = builder().drainTimeout(forever).build();
        assertThat(clients.pool().config().retirement()).hasToString("REQUEST_PEER_CLOSE(drainTimeout=" + forever + ", fallback=RESET)");
        try (PooledClient<LineClient> c = clients.borrow(endpoint)) {
            assertThat(c.get().call("last")).isEqualTo("last");
            c.retire();
        }
        // Taken, not refused: the goodbye goes out, the connection drains and the server closes first.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(tally.closed(Ending.PEER, CloseReason.RETIRED)).isEqualTo(1));
        assertThat(tally.closed(Ending.RESET)).isZero();
    }

    @Test
    void newConnectionsHaveTcpNoDelayAndKeepAliveOnByDefaultAndOffWhenTurnedOff() throws IOException {
        try (SocketClientPool<Socket> byDefault = SocketClientPool.builder(socket -> socket).build();
             PooledClient<Socket> c = byDefault.borrow(endpoint)) {
            assertThat(c.get().getTcpNoDelay()).as("TCP_NODELAY by default").isTrue();
            assertThat(c.get().getKeepAlive()).as("SO_KEEPALIVE by default").isTrue();
        }
        try (SocketClientPool<Socket> off = SocketClientPool.builder(socket -> socket).tcpNoDelay(false).keepAlive(false).build();
             PooledClient<Socket> c = off.borrow(endpoint)) {
            assertThat(c.get().getTcpNoDelay()).as("TCP_NODELAY turned off").isFalse();
            assertThat(c.get().getKeepAlive()).as("SO_KEEPALIVE turned off").isFalse();
        }
    }

    @Test
    void timeoutsOutOfRangeAreRefusedByBuildNamingTheSetting() {
        assertThatThrownBy(() -> SocketClientPool.builder(LineClient::new).connectTimeout(Duration.ZERO).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("connectTimeout must be positive, but was PT0S");
        assertThatThrownBy(() -> SocketClientPool.builder(LineClient::new).connectTimeout(null).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("connectTimeout must be positive, but was null");
        assertThatThrownBy(() -> SocketClientPool.builder(LineClient::new).readTimeout(Duration.ofSeconds(-1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("readTimeout must not be negative, but was PT-1S");
        assertThatThrownBy(() -> SocketClientPool.builder(LineClient::new).readTimeout(null).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("readTimeout must not be negative, but was null");
        assertThatThrownBy(() -> SocketClientPool.builder(LineClient::new).drainTimeout(Duration.ofMillis(-1)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("drainTimeout must be positive, but was PT-0.001S");
        assertThatThrownBy(() -> SocketClientPool.builder(LineClient::new).goodbye(LineClient::bye)
                .goodbyeTimeout(Duration.ZERO).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("goodbyeTimeout must be positive, but was PT0S");
    }

    @Test
    void requestPeerCloseWithoutAGoodbyeIsRefusedByBuild() {
        assertThatThrownBy(() -> SocketClientPool.builder(LineClient::new)
                .retirement(Retirement.requestPeerClose(Duration.ofSeconds(5))).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("retirement must be AWAIT_PEER, RESET or LOCAL when the pool has no goodbye, but was "
                        + "REQUEST_PEER_CLOSE(drainTimeout=PT5S, fallback=RESET) (a pool with no goodbye cannot ask the peer to close)");
    }

    @Test
    void drainTimeoutSetTogetherWithRetirementIsRefusedByBuildNamingBoth() {
        String message = "drainTimeout must not be set together with retirement, which carries its own "
                + "(REQUEST_PEER_CLOSE(drainTimeout=PT1M, fallback=RESET)), but was PT5S";
        assertThatThrownBy(() -> SocketClientPool.builder(LineClient::new).goodbye(LineClient::bye)
                .drainTimeout(Duration.ofSeconds(5)).retirement(Retirement.requestPeerClose(Duration.ofMinutes(1))).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(message);
        assertThatThrownBy(() -> SocketClientPool.builder(LineClient::new).goodbye(LineClient::bye)
                .retirement(Retirement.requestPeerClose(Duration.ofMinutes(1))).drainTimeout(Duration.ofSeconds(5)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(message);
    }

    @Test
    void aRetirementAloneKeepsItsDrainTimeoutAndADrainTimeoutAloneShapesTheDerivedRetirement() {
        try (SocketClientPool<LineClient> explicit = SocketClientPool.builder(LineClient::new)
                .retirement(Retirement.awaitPeer(Duration.ofMinutes(1))).build();
             SocketClientPool<LineClient> derived = SocketClientPool.builder(LineClient::new).goodbye(LineClient::bye)
                     .drainTimeout(Duration.ofSeconds(5)).build()) {
            assertThat(explicit.pool().config().retirement()).hasToString("AWAIT_PEER(drainTimeout=PT1M, fallback=RESET)");
            assertThat(derived.pool().config().retirement()).hasToString("REQUEST_PEER_CLOSE(drainTimeout=PT5S, fallback=RESET)");
        }
    }

    @Test
    void aGoodbyeTimeoutWithoutAGoodbyeIsRefusedByBuild() {
        assertThatThrownBy(() -> SocketClientPool.builder(LineClient::new).goodbyeTimeout(Duration.ofSeconds(2)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("goodbyeTimeout must not be set without a goodbye, but was PT2S");
        try (SocketClientPool<LineClient> pool = SocketClientPool.builder(LineClient::new)
                .goodbye(LineClient::bye).goodbyeTimeout(Duration.ofSeconds(2)).build()) {
            assertThat(pool.pool().config().retirement().policy()).isEqualTo(Retirement.Policy.REQUEST_PEER_CLOSE);
        }
    }

    /** A legacy-style blocking client: a line out, a line back, written against a plain Socket. */
    static final class LineClient {
        final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        LineClient(Socket socket) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
        }

        String call(String line) throws IOException {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            ByteArrayOutputStream reply = new ByteArrayOutputStream();
            for (int b = in.read(); b != '\n'; b = in.read()) {
                if (b < 0) {
                    throw new EOFException("server closed the connection");
                }
                reply.write(b);
            }
            return reply.toString(StandardCharsets.UTF_8);
        }

        void bye() throws IOException {
            out.write((FrameServer.GOODBYE + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }
}
