package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.ScriptedServer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The port budget's kernel reads are few and shared: churn that does not grow a pool's use of
 * ports causes none, and the pools of one JVM toward one server share one periodic read instead
 * of each reading on its own. (Other tests of this JVM may add a read now and then: the bounds
 * leave room for that, far below what per-pool or per-connect reads cost.)
 */
class KernelPortCounterTest {

    /** 100 ports per endpoint, kernel counting on. */
    private static final PortBudget HUNDRED = PortBudget.ofRange(40000, 40199).withShare(0.5);

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void churnThatDoesNotGrowThePoolsUseOfPortsReadsNoKernelTable() throws Exception {
        Assumptions.assumeTrue(KernelProbe.linux().isAvailable(), "needs /proc/net/tcp");
        try (ScriptedServer server = ScriptedServer.start();
             SocketPool sockets = SocketPool.builder().poolConfig(PoolConfig.builder().name("churn-reads")
                     .maxLeasesPerConnection(1).retirement(Retirement.reset()).portBudget(HUNDRED).build()).build()) {
            try (Socket s = sockets.socket(server.host(), server.port())) {
                assertThat(ScriptedServer.exchange(s, 0)).isEqualTo(1); // the endpoint's first count
            }
            KernelPortCounter kernel = KernelPortCounter.shared();
            long before = kernel.tableReads();
            long t0 = System.nanoTime();
            int churn = 200; // twice the budget: a read per tenth of the budget opened would be 20
            for (int i = 1; i <= churn; i++) {
                try (Socket s = sockets.socket(server.host(), server.port())) {
                    assertThat(ScriptedServer.exchange(s, i)).isEqualTo(i + 1);
                }
            }
            long reads = kernel.tableReads() - before;
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.printf("[KernelPortCounterTest] %d new connections, each closed with RST, in %.1f s: %d kernel reads%n",
                    churn, seconds, reads);
            assertThat(server.accepted()).isEqualTo(churn + 1);
            // The endpoint is empty between connections and may be forgotten and made again: at
            // most one read a second then, never one per connect (200) or per tenth of the budget (20).
            assertThat(reads).as("kernel table reads during %d connects in %.1f s that left no TIME_WAIT", churn, seconds)
                    .isLessThanOrEqualTo((long) Math.ceil(seconds) + 1);
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void poolsOfOneJvmTowardOneServerShareOnePeriodicRead() throws Exception {
        Assumptions.assumeTrue(KernelProbe.linux().isAvailable(), "needs /proc/net/tcp");
        int pools = 10;
        List<SocketPool> all = new ArrayList<>();
        List<Socket> held = new ArrayList<>();
        try (ScriptedServer server = ScriptedServer.start()) {
            for (int p = 0; p < pools; p++) {
                SocketPool sockets = SocketPool.builder().poolConfig(PoolConfig.builder().name("shared-reads-" + p)
                        .portBudget(HUNDRED).build()).build();
                all.add(sockets);
                // Two each: 20 of the server's 100 ports in this JVM, so it is worth a read a second.
                held.add(sockets.socket(server.host(), server.port()));
                held.add(sockets.socket(server.host(), server.port()));
            }
            KernelPortCounter kernel = KernelPortCounter.shared();
            long before = kernel.tableReads();
            long t0 = System.nanoTime();
            await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(10)).until(() -> true);
            double seconds = (System.nanoTime() - t0) / 1e9;
            long reads = kernel.tableReads() - before;
            System.out.printf("[KernelPortCounterTest] %d pools holding 2 connections each: %d kernel reads in %.1f s%n",
                    pools, reads, seconds);
            // One read a second for the JVM (plus slack), not one per pool a second (30 here).
            assertThat(reads).as("kernel reads in %.1f s by %d pools", seconds, pools).isBetween(1L, (long) Math.ceil(seconds) + 3);
            for (SocketPool sockets : all) {
                assertThat(sockets.pool().portBudget().endpoints().values())
                        .allSatisfy(u -> assertThat(u.otherSockets()).as("the other pools' sockets, seen by the shared read").isEqualTo(18));
            }
        } finally {
            for (Socket s : held) {
                s.close();
            }
            all.forEach(SocketPool::close);
        }
    }

    /**
     * A closed pool needs no counts: one closed at half its budget toward the server (its
     * TIME_WAITs still in their window) must not keep the JVM's reader at a read a second for the
     * pools still open. The closed pool stays reachable, as a user's field may keep it.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aClosedPoolNearItsBudgetNoLongerKeepsTheReaderReadingEverySecond() throws Exception {
        Assumptions.assumeTrue(KernelProbe.linux().isAvailable(), "needs /proc/net/tcp");
        List<Socket> held = new ArrayList<>();
        try (ScriptedServer server = ScriptedServer.start();
             SocketPool sockets = SocketPool.builder().poolConfig(PoolConfig.builder().name("still-next-to-closed")
                     .maxPerEndpoint(20).portBudget(HUNDRED).build()).build()) {
            Endpoint endpoint = Endpoint.of(server.host(), server.port());
            Pool<Object> closed = Pool.of(e -> new Object(), PoolConfig.builder().name("closed-near-budget")
                    .ticker(new FakeTicker()) // its TIME_WAITs stay in their window
                    .retirement(Retirement.local()).portBudget(PortBudget.ofRange(40000, 40019).withShare(0.5)).build());
            for (int i = 0; i < 5; i++) {
                try (Lease<Object> lease = closed.lease(endpoint)) {
                    lease.retire(); // a stub ends LOCAL: a TIME_WAIT counted, none in the kernel
                }
            }
            assertThat(closed.portBudget().endpoints().get(endpoint).used()).as("half of the closed pool's budget of 10").isEqualTo(5);
            closed.close();
            for (int i = 0; i < 20; i++) { // a fifth of the budget: worth periodic reads, far from its end
                held.add(sockets.socket(server.host(), server.port()));
            }
            StillReads still = readsOverSixStillSeconds("20 idle connections next to a closed pool");
            assertThat(still.reads).as("kernel reads in %.1f s of a still table", still.seconds).isBetween(1L, 4L);
            assertThat(closed.isClosed()).isTrue(); // reachable to the end
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
    }

    /**
     * An endpoint the pool forgot needs no counts: one whose last count saw sockets of another
     * process (here, of the test) must not keep the JVM's reader reading every few seconds for
     * the pool's sake. Its pool stays open.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aForgottenEndpointIsNoLongerReadWhateverItsLastCountSaw() throws Exception {
        Assumptions.assumeTrue(KernelProbe.linux().isAvailable(), "needs /proc/net/tcp");
        List<Socket> held = new ArrayList<>();
        FakeTicker ticker = new FakeTicker();
        try (ScriptedServer server = ScriptedServer.start();
             Pool<Object> pool = Pool.of(new NoSocketResetConnector(), PoolConfig.builder().name("forgotten-endpoint")
                     .ticker(ticker).maxIdleTime(Duration.ofSeconds(1)).portBudget(HUNDRED).build())) {
            Endpoint endpoint = Endpoint.of(server.host(), server.port());
            for (int i = 0; i < 2; i++) { // sockets of "another process": worth periodic reads
                held.add(new Socket(server.host(), server.port()));
            }
            try (Lease<Object> lease = pool.lease(endpoint)) {
                lease.retire(); // no socket, no TIME_WAIT: the endpoint is empty and quiet after it
            }
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                    assertThat(pool.portBudget().endpoints().get(endpoint).otherSockets()).isEqualTo(2));
            ticker.advance(Duration.ofSeconds(2));
            await().atMost(Duration.ofSeconds(20)).until(() -> pool.endpoints().isEmpty());
            KernelReads.holdReads().close(); // a read in progress at the removal has ended
            StillReads still = readsOverTenStillSeconds("a forgotten endpoint next to 2 sockets of others");
            // With the endpoint still counted, reads would come at most 8 s apart: at least one.
            assertThat(still.reads).as("kernel reads in %.1f s with no endpoint to count", still.seconds).isZero();
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
    }

    /** Connections without sockets that end with a reset: no TIME_WAIT of the pool's own. */
    private static final class NoSocketResetConnector implements io.github.portkeeper.core.Connector<Object> {
        @Override
        public Object connect(Endpoint endpoint) {
            return new Object();
        }

        @Override
        public io.github.portkeeper.core.Ending endingWithoutChannel(Object connection) {
            return io.github.portkeeper.core.Ending.RESET;
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aStillTableIsReadLessAndLessOftenWhileFarFromTheBudget() throws Exception {
        Assumptions.assumeTrue(KernelProbe.linux().isAvailable(), "needs /proc/net/tcp");
        List<Socket> held = new ArrayList<>();
        try (ScriptedServer server = ScriptedServer.start();
             SocketPool sockets = SocketPool.builder().poolConfig(PoolConfig.builder().name("still-reads").maxPerEndpoint(20)
                     .portBudget(HUNDRED).build()).build()) {
            for (int i = 0; i < 20; i++) { // a fifth of the budget: worth periodic reads, far from its end
                held.add(sockets.socket(server.host(), server.port()));
            }
            StillReads still = readsOverSixStillSeconds("20 idle connections, nothing changing");
            // Read a second apart, then 2, 4 and 8 s apart while nothing changes: about 3 reads
            // in 6 s (one a second would be 6). Still at least one: the count stays watched.
            assertThat(still.reads).as("kernel reads in %.1f s of a still table", still.seconds).isBetween(1L, 4L);
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
    }

    /** The JVM's kernel reads over six seconds in which the test changes nothing. */
    private static StillReads readsOverSixStillSeconds(String what) {
        return readsOverStillSeconds(6, what);
    }

    /** The JVM's kernel reads over ten seconds (past the longest period, 8 s) in which the test changes nothing. */
    private static StillReads readsOverTenStillSeconds(String what) {
        return readsOverStillSeconds(10, what);
    }

    private static StillReads readsOverStillSeconds(int seconds, String what) {
        KernelPortCounter kernel = KernelPortCounter.shared();
        long before = kernel.tableReads();
        long t0 = System.nanoTime();
        await().pollDelay(Duration.ofSeconds(seconds)).atMost(Duration.ofSeconds(seconds + 4)).until(() -> true);
        StillReads still = new StillReads(kernel.tableReads() - before, (System.nanoTime() - t0) / 1e9);
        System.out.printf("[KernelPortCounterTest] %s: %d kernel reads in %.1f s%n", what, still.reads, still.seconds);
        return still;
    }

    private static final class StillReads {
        final long reads;
        final double seconds;

        StillReads(long reads, double seconds) {
            this.reads = reads;
            this.seconds = seconds;
        }
    }
}
