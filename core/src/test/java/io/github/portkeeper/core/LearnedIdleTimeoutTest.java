package io.github.portkeeper.core;

import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.core.internal.PooledSocket;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.TallyListener;
import io.github.portkeeper.test.TimeWaitCount;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The pool learns (or is told) at what idle age the server closes connections and stops leasing
 * connections older than that minus the safety margin, against a real server and real time.
 */
class LearnedIdleTimeoutTest {

    private static final Duration SERVER_IDLE_TIMEOUT = Duration.ofSeconds(1);
    /** The margin the pool uses for a 1 s timeout: the configured 1 s, capped at a quarter of the timeout. */
    private static final Duration LIMIT = SERVER_IDLE_TIMEOUT.minusMillis(250);
    private static final Duration WAIT = Duration.ofSeconds(5);
    /** A pause the pool reuses connections across however slow the machine: 500 ms short of the limit. */
    private static final Duration SHORT_PAUSE = Duration.ofMillis(250);
    private static final int READ_TIMEOUT_MILLIS = 5_000;
    private static final int WORKERS = 3;
    private static final int EXCHANGES_PER_WORKER = 3;

    private final TallyListener tally = new TallyListener();
    private ScriptedServer server;
    private SocketPool sockets;
    private Endpoint endpoint;
    /** The client sockets that closed first toward the server before the test's own (see TimeWaitCount). */
    private TimeWaitCount timeWait;

    private void start(ScriptedServer.Builder serverPolicies, Retirement retirement) throws IOException {
        server = serverPolicies.start();
        endpoint = Endpoint.of(server.host(), server.port());
        timeWait = Kernel.isAvailable() ? TimeWaitCount.toward(server.address()) : null;
        sockets = SocketPool.builder().readTimeout(Duration.ofMillis(READ_TIMEOUT_MILLIS))
                .poolConfig(PoolConfig.builder().maxPerEndpoint(WORKERS).retirement(retirement).listener(tally).build())
                .build();
    }

    @AfterEach
    void nothingLeaked() {
        if (sockets == null) {
            return;
        }
        try {
            assertThat(sockets.pool().stats().active()).as("connections still leased").isZero();
            if (Kernel.isAvailable()) {
                assertThat(Kernel.clientCloseWait(server.address())).as(Kernel.describe(server.address())).isZero();
                assertThat(timeWait.newSince()).as("client TIME_WAIT; %s", Kernel.describe(server.address())).isZero();
            }
        } finally {
            sockets.close();
            server.close();
        }
    }

    @Test
    void learnedTimeoutKeepsEveryLeaseClearOfTheServersIdleClose() throws Exception {
        start(ScriptedServer.builder().closeAfterIdle(SERVER_IDLE_TIMEOUT), Retirement.defaults());
        Workload workload = new Workload();
        try {
            workload.burst();
            // One pause past the timeout: the server closes every idle connection and the pool observes it.
            workload.pause(Duration.ofMillis(1_300));
            assertThat(sockets.pool().serverIdleTimeout(endpoint)).as("learned after one pause").isPresent();
            workload.idleAgesAtLease.clear();

            Random random = new Random(20_261_122L);
            List<Duration> pauses = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                pauses.add(Duration.ofMillis(500 + random.nextInt(1_001)));
                if (i % 4 == 1) {
                    // Well inside the limit: a loaded machine that stretches every pause and burst by
                    // hundreds of milliseconds still reuses connections across these.
                    pauses.add(SHORT_PAUSE);
                }
            }
            assertThat(pauses).as("the seed exercises the window between the limit and the server's timeout")
                    .anyMatch(p -> p.compareTo(LIMIT) > 0 && p.compareTo(SERVER_IDLE_TIMEOUT) < 0)
                    .anyMatch(p -> p.compareTo(LIMIT) < 0 && p.compareTo(SHORT_PAUSE) > 0);
            for (Duration pause : pauses) {
                workload.burst();
                workload.pause(pause);
            }
            workload.burst();
        } finally {
            workload.close();
        }

        assertThat(workload.stale).as("exchanges that failed on a connection the server had closed").hasValue(0);
        // Reuse across a pause (the shortest is SHORT_PAUSE), or the bound below would hold vacuously.
        assertThat(workload.maxIdleAgeAtLease()).as("oldest idle connection leased after learning")
                .isGreaterThanOrEqualTo(SHORT_PAUSE);
        assertThat(workload.maxIdleAgeAtLease())
                .as("oldest idle connection leased after learning").isLessThan(SERVER_IDLE_TIMEOUT.minusMillis(100));
        assertThat(sockets.pool().serverIdleTimeout(endpoint)).hasValueSatisfying(learned ->
                assertThat(learned).isBetween(SERVER_IDLE_TIMEOUT.minusMillis(100), SERVER_IDLE_TIMEOUT.plusMillis(100)));
        assertThat(tally.timeWaitCaused()).isZero();
        assertThat(tally.closedEvents()).allSatisfy(c -> assertThat(c.ending()).isEqualTo(Ending.PEER));
    }

    @Test
    void announcedIdleTimeoutStopsLeasingConnectionsOlderThanItMinusTheMargin() throws Exception {
        Duration drainTimeout = Duration.ofMillis(300);
        start(ScriptedServer.builder(), Retirement.awaitPeer(drainTimeout)); // this server never times out
        // A 3 s announcement: limit 3 s - min(1 s, 3 s / 4) = 2.25 s, wide enough that a loaded
        // CI machine cannot stretch the "still young" check below past it.
        Duration announced = Duration.ofSeconds(3);
        Duration limit = Duration.ofMillis(2250);
        sockets.pool().hintIdleTimeout(endpoint, announced);
        assertThat(sockets.pool().serverIdleTimeout(endpoint)).hasValue(announced);

        int port;
        try (Socket s = socket()) {
            port = s.getLocalPort();
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
        }
        // Younger than the limit: stays pooled and is reused.
        await().during(Duration.ofMillis(400)).atMost(WAIT).until(() -> sockets.pool().stats().idle() == 1);
        long released;
        try (Socket s = socket()) {
            assertThat(s.getLocalPort()).isEqualTo(port);
            assertThat(ScriptedServer.exchange(s, 2)).isEqualTo(3);
        } finally {
            released = System.nanoTime();
        }
        // Older than the limit: retired, never leased again.
        await().atMost(WAIT).pollInterval(Duration.ofMillis(5)).until(() -> sockets.pool().stats().idle() == 0);
        Duration retiredAfter = Duration.ofNanos(System.nanoTime() - released);
        assertThat(retiredAfter).as("retired once older than the limit, within a few housekeeping ticks")
                .isBetween(limit.minusMillis(10), limit.plusMillis(500));
        // Listeners hear of it off the watcher's thread, a moment after the pool has moved it.
        await().atMost(WAIT).pollInterval(Duration.ofMillis(5)).until(() -> !tally.retiringEvents().isEmpty());
        assertThat(tally.retiringEvents()).singleElement()
                .satisfies(r -> assertThat(r.reason()).isEqualTo(CloseReason.IDLE_TIMEOUT));
        try (Socket s = socket()) {
            assertThat(s.getLocalPort()).as("a fresh connection").isNotEqualTo(port);
            assertThat(ScriptedServer.exchange(s, 3)).isEqualTo(4);
        }
        // This server never closes, so the retired connection ends by the fallback after draining.
        await().atMost(WAIT).pollInterval(Duration.ofMillis(10)).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closed(Ending.RESET)).isEqualTo(1);
        assertThat(server.accepted()).isEqualTo(2);
    }

    /**
     * A server that closes a connection after its request limit (nginx {@code keepalive_requests})
     * closes right after a response, not after an idle timeout. Taking that close for an idle
     * timeout would teach the pool a timeout of a few milliseconds and stop all reuse.
     */
    @Test
    void closeAfterTheServersRequestLimitIsNotTakenForAnIdleTimeout() throws Exception {
        start(ScriptedServer.builder().closeAfterResponses(3).closeAfterIdle(SERVER_IDLE_TIMEOUT), Retirement.defaults());
        int exchanges = 9;
        for (int i = 0; i < exchanges; i++) {
            try (Socket s = socket()) {
                assertThat(ScriptedServer.exchange(s, i)).isEqualTo(i + 1);
            }
            // A pause well inside the server's 1 s idle timeout.
            await().during(Duration.ofMillis(150)).atMost(WAIT).until(() -> sockets.pool().stats().active() == 0);
        }
        assertThat(server.endedCount(ScriptedServer.End.SERVER_LAST_RESPONSE_CLOSE)).as("the server hit its request limit").isPositive();
        assertThat(sockets.pool().serverIdleTimeout(endpoint))
                .as("the idle timeout learned from closes that were not idle timeouts")
                .satisfiesAnyOf(
                        learned -> assertThat(learned).isEmpty(),
                        learned -> assertThat(learned.orElseThrow()).isGreaterThan(Duration.ofMillis(500)));
        assertThat(server.accepted()).as("connections opened for %d exchanges, 3 allowed per connection", exchanges)
                .isEqualTo(exchanges / 3);
    }

    private Socket socket() throws IOException {
        return sockets.socket(server.host(), server.port());
    }

    /**
     * Bursts of a few exchanges at concurrency {@value #WORKERS}, tracking the idle age of every reused
     * connection. Each lease is taken as {@link SocketPool#socket} takes it, so that the pool says
     * whether the connection was reused and the connection itself (not its local port, which a
     * new connection may get again once the server has closed the old one) keys its release time.
     */
    private final class Workload implements AutoCloseable {

        final ExecutorService workers = Executors.newFixedThreadPool(WORKERS);
        /** Guards {@link #releasedAt} together with the release it stamps (see {@link #exchange}). */
        final Object stamps = new Object();
        final Map<SocketChannel, Long> releasedAt = new HashMap<>();
        final List<Long> idleAgesAtLease = new CopyOnWriteArrayList<>();
        final AtomicInteger stale = new AtomicInteger();
        final AtomicInteger value = new AtomicInteger();
        final AtomicLong exchanges = new AtomicLong();

        void burst() throws Exception {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                done.add(workers.submit(() -> {
                    for (int i = 0; i < EXCHANGES_PER_WORKER; i++) {
                        exchange();
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(10, TimeUnit.SECONDS);
            }
        }

        private void exchange() throws IOException {
            // Stamped before the lease (and the release after it): the age seen is never more
            // than the age the pool judged, however long this thread waits to run again.
            long leasedAt = System.nanoTime();
            Lease<SocketChannel> lease = sockets.pool().lease(endpoint);
            SocketChannel connection = lease.connection();
            Socket s = new PooledSocket(lease, READ_TIMEOUT_MILLIS);
            try {
                if (lease.isReused()) {
                    Long previousRelease;
                    // Waits for the stamp of a release still under way on another thread: without
                    // it this lease would read the one before and see an age the pool never judged.
                    synchronized (stamps) {
                        previousRelease = releasedAt.get(connection);
                    }
                    assertThat(previousRelease).as("a reused connection was released before").isNotNull();
                    idleAgesAtLease.add(leasedAt - previousRelease);
                }
                int v = value.incrementAndGet();
                assertThat(ScriptedServer.exchange(s, v)).isEqualTo(v + 1);
                exchanges.incrementAndGet();
            } catch (IOException e) {
                stale.incrementAndGet();
            } finally {
                // The release and its stamp as one step for the next leaser (the release hands the
                // connection over and never waits, so holding the lock across it is safe).
                synchronized (stamps) {
                    s.close();
                    releasedAt.put(connection, System.nanoTime());
                }
            }
        }

        /** Lets the pool sit idle for {@code pause}, checking meanwhile that nothing is leased. */
        void pause(Duration pause) {
            await().during(pause).atMost(pause.plus(WAIT)).pollInterval(Duration.ofMillis(50))
                    .until(() -> sockets.pool().stats().active() == 0);
        }

        Duration maxIdleAgeAtLease() {
            return Duration.ofNanos(idleAgesAtLease.stream().mapToLong(Long::longValue).max().orElse(0));
        }

        @Override
        public void close() {
            workers.shutdownNow();
            try {
                assertThat(workers.awaitTermination(5, TimeUnit.SECONDS)).as("workers stopped").isTrue();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while stopping the workload", e);
            }
        }
    }
}
