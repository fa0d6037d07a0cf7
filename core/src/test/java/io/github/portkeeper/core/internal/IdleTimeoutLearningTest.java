package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.testing.ChannelConnector;
import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What the pool learns as the server's idle timeout, against a real loopback server and the
 * pool's fake ticker: the idle age of a close is the ticker's, so it is exact and no test waits
 * for it.
 */
class IdleTimeoutLearningTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Duration POLL = Duration.ofMillis(5);
    private static final Duration MAX_IDLE = Duration.ofSeconds(2);

    private final FakeTicker ticker = new FakeTicker();
    private final TallyListener tally = new TallyListener();
    private ScriptedServer server;
    /** A server this test closes connections of by hand, at the idle age the ticker says. */
    private ServerSocketChannel listener;
    private final List<SocketChannel> accepted = new ArrayList<>();
    private PoolEngine<SocketChannel> pool;

    @AfterEach
    void close() {
        if (pool != null) {
            assertThat(pool.stats().active()).as("connections still leased").isZero();
            pool.close();
        }
        if (server != null) {
            server.close();
        }
        for (SocketChannel peer : accepted) {
            closeQuietly(peer);
        }
        if (listener != null) {
            closeQuietly(listener);
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // The test is over.
        }
    }

    private Endpoint endpoint() {
        if (listener != null) {
            InetSocketAddress address = (InetSocketAddress) listener.socket().getLocalSocketAddress();
            return Endpoint.of(address.getAddress().getHostAddress(), address.getPort());
        }
        return Endpoint.of(server.host(), server.port());
    }

    private PoolConfig.Builder config(Retirement retirement) {
        return config(retirement, MAX_IDLE);
    }

    private PoolConfig.Builder config(Retirement retirement, Duration maxIdle) {
        return PoolConfig.builder().ticker(ticker).maxPerEndpoint(1).maxIdleTime(maxIdle)
                .retirement(retirement).portBudget(PortBudget.disabled()).listener(tally);
    }

    /**
     * Under {@code REQUEST_PEER_CLOSE} (the RPC client's default) a connection retired for its
     * idle age is sent the goodbye, and the server closes it within a round trip. That FIN is
     * the answer to the goodbye, not the server's idle timeout: learned, it lowered the learned
     * timeout each cycle, until connections were retired 50 ms after use.
     */
    @Test
    void theFinOurGoodbyeProvokesIsNotLearnedAsTheServersIdleTimeout() throws Exception {
        server = ScriptedServer.builder().closeOnGoodbye("QUIT", "+OK\r\n").start(); // no idle timeout
        ChannelConnector connector = ChannelConnector.withGoodbye("QUIT");
        pool = new PoolEngine<>(connector, config(Retirement.requestPeerClose(WAIT)).build());

        int cycles = 3;
        for (int i = 1; i <= cycles; i++) {
            try (LeaseHandle<SocketChannel> lease = pool.lease(endpoint(), WAIT)) {
                assertThat(ScriptedServer.exchange(lease.connection(), i)).isEqualTo(i + 1);
            }
            ticker.advance(MAX_IDLE.plusMillis(1)); // past maxIdleTime: housekeeping retires it
            int closed = i;
            await().atMost(WAIT).pollInterval(POLL).until(() -> tally.closedTotal() == closed);
        }

        assertThat(connector.goodbyesSent()).isEqualTo(cycles);
        assertThat(tally.closedEvents()).as(tally.toString()).allSatisfy(c -> {
            assertThat(c.ending()).isEqualTo(Ending.PEER);
            assertThat(c.reason()).isEqualTo(CloseReason.IDLE_TIMEOUT);
        });
        assertThat(pool.serverIdleTimeout(endpoint()))
                .as("the idle timeout learned from a server that has none, from FINs our goodbyes asked for")
                .isEmpty();
    }

    /** A connector without a goodbye: the FIN of a connection draining for its idle age is the server's own. */
    @Test
    void withoutAGoodbyeTheServersCloseOfAnIdleRetiredConnectionIsStillLearned() throws Exception {
        server = ScriptedServer.builder().start();
        pool = new PoolEngine<>(ChannelConnector.plain(), config(Retirement.requestPeerClose(WAIT)).build());
        try (LeaseHandle<SocketChannel> lease = pool.lease(endpoint(), WAIT)) {
            assertThat(ScriptedServer.exchange(lease.connection(), 1)).isEqualTo(2);
        }
        ticker.advance(MAX_IDLE.plusMillis(1));
        await().atMost(WAIT).pollInterval(POLL).until(() -> pool.stats().draining() == 1);
        ticker.advance(Duration.ofSeconds(1)); // the server's idle timeout, 3 s and 1 ms, comes
        server.close(); // closes its side of every connection: the FIN of an idle timeout
        await().atMost(WAIT).pollInterval(POLL).until(() -> tally.closedTotal() == 1);

        assertThat(tally.closed(Ending.PEER)).as(tally.toString()).isEqualTo(1);
        assertThat(pool.serverIdleTimeout(endpoint())).hasValue(MAX_IDLE.plusSeconds(1).plusMillis(1));
    }
    // ------------------------------------------------------------------ how long an observation counts

    private static final Duration OBSERVATION_LIFETIME = Duration.ofMinutes(10);
    private static final Duration LONG_IDLE = Duration.ofMinutes(1);

    /** The pool over a server whose connections this test closes by hand ({@link #serverClosesAt}). */
    private void startHandClosedServer() throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        pool = new PoolEngine<>(ChannelConnector.plain(), config(Retirement.awaitPeer(Duration.ofSeconds(30)), LONG_IDLE).build());
    }

    /**
     * One connection used once, then closed by the server at idle age {@code age} (ticker time):
     * while watched, or while draining for its idle age if the pool retired it first.
     */
    private void serverClosesAt(Duration age) throws IOException {
        long closedBefore = tally.closedTotal();
        SocketChannel peer;
        try (LeaseHandle<SocketChannel> lease = pool.lease(endpoint(), WAIT)) {
            assertThat(lease.isReused()).as("a new connection").isFalse();
            peer = listener.accept();
            accepted.add(peer);
        }
        ticker.advance(age);
        PooledEntry<SocketChannel> entry = pool.endpointPools().iterator().next().entries()[0];
        // Watched only once its key is registered: a FIN before that is one "already there".
        await().atMost(WAIT).pollInterval(POLL).until(() -> entry.state() == PooledEntry.DRAINING
                || (entry.state() == PooledEntry.WATCHED && entry.watchKey != null));
        peer.close();
        await().atMost(WAIT).pollInterval(POLL).until(() -> tally.closedTotal() == closedBefore + 1);
        assertThat(tally.closedEvents().get(tally.closedEvents().size() - 1).ending()).isEqualTo(Ending.PEER);
    }

    /**
     * A server reload closes every idle connection once, early. Learned as the idle timeout, that
     * close made the pool retire connections after 150 ms for good: it never saw the server's
     * real timeout again, so the value could not rise. An observation now counts for ten
     * minutes (ticker time); then the pool learns the real timeout again.
     */
    @Test
    void aOneOffEarlyCloseIsForgottenAfterTenMinutesAndTheLearnedTimeoutRisesAgain() throws Exception {
        startHandClosedServer();
        serverClosesAt(Duration.ofMillis(200)); // the reload
        assertThat(pool.serverIdleTimeout(endpoint())).hasValue(Duration.ofMillis(200));

        ticker.advance(OBSERVATION_LIFETIME.minusMillis(1));
        assertThat(pool.serverIdleTimeout(endpoint())).as("within ten minutes").hasValue(Duration.ofMillis(200));
        ticker.advance(Duration.ofMillis(1));
        assertThat(pool.serverIdleTimeout(endpoint())).as("ten minutes after the only observation").isEmpty();

        serverClosesAt(Duration.ofSeconds(10)); // the server's real idle timeout
        assertThat(pool.serverIdleTimeout(endpoint())).as("learned again").hasValue(Duration.ofSeconds(10));
    }

    /**
     * A server that really closes at its timeout keeps teaching it: under AWAIT_PEER each
     * connection retired for its idle age drains until the server's close, a new observation.
     * The learned value outlives the ten minutes of any one observation.
     */
    @Test
    void aServerThatKeepsClosingAtItsTimeoutKeepsItLearned() throws Exception {
        startHandClosedServer();
        Duration timeout = Duration.ofSeconds(10);
        serverClosesAt(timeout);
        for (int i = 0; i < 4; i++) {
            try (LeaseHandle<SocketChannel> lease = pool.lease(endpoint(), WAIT)) {
                accepted.add(listener.accept());
                ticker.advance(Duration.ofMinutes(4)); // in use, not idle
            }
            ticker.advance(timeout.minusSeconds(1)); // past the limit, 10 s minus the 1 s margin
            await().atMost(WAIT).pollInterval(POLL).until(() -> pool.stats().draining() == 1);
            ticker.advance(Duration.ofSeconds(1));
            long closedBefore = tally.closedTotal();
            accepted.get(accepted.size() - 1).close(); // the server's idle timeout
            await().atMost(WAIT).pollInterval(POLL).until(() -> tally.closedTotal() == closedBefore + 1);
            assertThat(pool.serverIdleTimeout(endpoint())).as("after %d minutes", 4 * (i + 1) + 0).hasValue(timeout);
        }
        assertThat(tally.closedEvents()).as(tally.toString()).allSatisfy(c -> assertThat(c.ending()).isEqualTo(Ending.PEER));
    }

    // ------------------------------------------------------------------ TLS records on an idle connection

    /**
     * One connection used once; at idle age {@code age} (ticker time), while watched, the server
     * sends one TLS 1.3 record of type application_data (23) and length {@code length}, then
     * after {@code finAfter} more its FIN. Returns the reason the connection was retired for.
     */
    private CloseReason serverSendsTls13RecordAt(Duration age, int length, Duration finAfter) throws IOException {
        long closedBefore = tally.closedTotal();
        int retiringBefore = tally.retiringEvents().size();
        SocketChannel peer;
        try (LeaseHandle<SocketChannel> lease = pool.lease(endpoint(), WAIT)) {
            assertThat(lease.isReused()).as("a new connection").isFalse();
            peer = listener.accept();
            accepted.add(peer);
        }
        ticker.advance(age);
        PooledEntry<SocketChannel> entry = pool.endpointPools().iterator().next().entries()[0];
        await().atMost(WAIT).pollInterval(POLL)
                .until(() -> entry.state() == PooledEntry.WATCHED && entry.watchKey != null);
        ByteBuffer record = ByteBuffer.allocate(5 + length);
        record.put((byte) 0x17).put((byte) 0x03).put((byte) 0x03).putShort((short) length).position(0);
        while (record.hasRemaining()) {
            peer.write(record);
        }
        await().atMost(WAIT).pollInterval(POLL).until(() -> pool.stats().draining() == 1);
        ticker.advance(finAfter);
        peer.close();
        await().atMost(WAIT).pollInterval(POLL).until(() -> tally.closedTotal() == closedBefore + 1);
        assertThat(tally.closedEvents().get(tally.closedEvents().size() - 1).ending()).isEqualTo(Ending.PEER);
        await().atMost(WAIT).pollInterval(POLL).until(() -> tally.retiringEvents().size() == retiringBefore + 1);
        return tally.retiringEvents().get(retiringBefore).reason();
    }

    /**
     * A TLS 1.3 server sends a KeyUpdate (22 bytes from OpenSSL, 38 from the JDK, which pads) or
     * a late NewSessionTicket as an application_data record too, on a connection it is not
     * closing. Taken for a close_notify, its arrival after 2 s idle was learned as the server's
     * idle timeout, and the pool stopped reusing connections past 1.5 s: churn.
     */
    @ParameterizedTest(name = "record length {0}")
    @ValueSource(ints = {22, 38, 250})
    void aTls13RecordThatCannotBeACloseNotifyDoesNotChangeTheLearnedIdleTimeout(int length) throws Exception {
        startHandClosedServer();
        Duration timeout = Duration.ofSeconds(10);
        serverClosesAt(timeout);

        CloseReason reason = serverSendsTls13RecordAt(Duration.ofSeconds(2), length, Duration.ofSeconds(1));

        assertThat(pool.serverIdleTimeout(endpoint())).as("the learned idle timeout").hasValue(timeout);
        assertThat(reason).as("a record the connection's holder never read: the stream is out of step")
                .isEqualTo(CloseReason.UNEXPECTED_DATA);
    }

    /**
     * A TLS 1.3 close_notify is an encrypted alert: 19 bytes unpadded (OpenSSL, Go), 35 from the
     * JDK, which pads every record with 16 zeros. The server's idle close, learned as of the
     * alert's arrival, not of the FIN behind it.
     */
    @ParameterizedTest(name = "record length {0}")
    @ValueSource(ints = {19, 35})
    void aTls13CloseNotifyOnAnIdleConnectionIsLearnedAsOfItsArrival(int length) throws Exception {
        startHandClosedServer();

        CloseReason reason = serverSendsTls13RecordAt(Duration.ofSeconds(2), length, Duration.ofSeconds(1));

        assertThat(reason).isEqualTo(CloseReason.PEER_CLOSED);
        assertThat(pool.serverIdleTimeout(endpoint())).as("the learned idle timeout").hasValue(Duration.ofSeconds(2));
    }

    /**
     * A removed endpoint's learned timeout is remembered for when it comes back, but only as
     * long as the observation would have counted: it was remembered, and restored, for good.
     */
    @Test
    void aRemovedEndpointsLearnedTimeoutIsForgottenWhenItsObservationWouldHaveBeen() throws Exception {
        startHandClosedServer();
        serverClosesAt(Duration.ofMillis(200));
        ticker.advance(LONG_IDLE.plusSeconds(1)); // empty for longer than maxIdleTime: forgotten
        pool.maintain();
        assertThat(pool.endpoints()).as("endpoints after the only one stayed empty").isEmpty();
        assertThat(pool.serverIdleTimeout(endpoint())).as("remembered").hasValue(Duration.ofMillis(200));

        try (LeaseHandle<SocketChannel> lease = pool.lease(endpoint(), WAIT)) {
            accepted.add(listener.accept());
            assertThat(pool.serverIdleTimeout(endpoint())).as("restored").hasValue(Duration.ofMillis(200));
            ticker.advance(OBSERVATION_LIFETIME.minus(LONG_IDLE));
            assertThat(pool.serverIdleTimeout(endpoint())).as("ten minutes after the observation").isEmpty();
            lease.markBroken();
        }

        ticker.advance(LONG_IDLE.plusSeconds(1));
        pool.maintain();
        assertThat(pool.endpoints()).isEmpty();
        ticker.advance(OBSERVATION_LIFETIME);
        assertThat(pool.serverIdleTimeout(endpoint())).as("removed, long after any observation").isEmpty();
    }
}
