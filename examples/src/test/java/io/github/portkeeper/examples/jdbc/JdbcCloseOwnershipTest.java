package io.github.portkeeper.examples.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.test.CloseWaitAges;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import io.github.portkeeper.test.TimeWaitCount;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.search.Search;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.jdbc.PgConnection;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * A real JDBC driver (PgJDBC) and a real database pool (HikariCP) against a real PostgreSQL
 * server, stock and through {@link PortkeeperSockets} (the guide's recipe, given to the driver as
 * its {@code socketFactory} by class name), with the kernel as the judge.
 *
 * <p>PgJDBC's close sends {@code Terminate} and closes the socket at once, so stock, the client's
 * FIN goes first and every connection the pool closes leaves a client TIME_WAIT. Through the
 * factory the close waits for the server's FIN (the server ends the session on
 * {@code Terminate}): {@code PEER}, no TIME_WAIT. When the server closes idle sessions
 * ({@code idle_session_timeout}), stock leaves each in CLOSE_WAIT until the pool next touches it;
 * the factory's idle watcher answers at once and the pool's validation replaces the connection.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class JdbcCloseOwnershipTest {

    /** Connections in the pool, all used in each round. */
    private static final int N = 8;
    /** The watcher answers within its delay (100 ms) and tick (20 ms); 2 s leaves room for a loaded machine. */
    private static final Duration CLOSE_WAIT_BOUND = Duration.ofSeconds(2);

    @TempDir
    static Path dir;
    private static PostgresServer.Cluster cluster;

    private PostgresServer server;

    @BeforeAll
    static void initCluster() throws Exception {
        Kernel.assumeLinux();
        cluster = PostgresServer.Cluster.init(dir);
    }

    @AfterEach
    void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void stockDriverAndPoolLeaveAClientTimeWaitForEveryConnectionThePoolCloses() throws Exception {
        server = cluster.start();
        InetSocketAddress db = server.address();
        TimeWaitCount timeWait = TimeWaitCount.toward(db);

        useEvictUseAndClose(config(false));

        int clientTimeWait = timeWait.newSince();
        System.out.println("PgJDBC + HikariCP, stock: " + 2 * N + " connections closed by the pool; client TIME_WAIT "
                + clientTimeWait + ", server TIME_WAIT " + Kernel.serverTimeWait(db.getPort()) + "; " + Kernel.describe(db));
        // Terminate, then the socket's close at once: the client's FIN leaves before the server has
        // even read the Terminate, so the client closes first (16 of 16 in every run measured). Only
        // a client thread descheduled between the two for the server's whole exit could lose that
        // race: such a connection leaves its TIME_WAIT on the server's side instead.
        assertThat(clientTimeWait + Kernel.serverTimeWait(db.getPort())).as("every close leaves one TIME_WAIT, on one side or "
                + "the other: " + Kernel.describe(db)).isEqualTo(2 * N);
        assertThat(clientTimeWait).as("client TIME_WAIT: " + Kernel.describe(db)).isGreaterThanOrEqualTo(2 * N - 2);
    }

    @Test
    void throughTheFactoryEveryConnectionThePoolClosesEndsByTheServersCloseWithNoTimeWait() throws Exception {
        server = cluster.start();
        InetSocketAddress db = server.address();
        Observed seen = observe();
        TimeWaitCount timeWait = TimeWaitCount.toward(db);

        useEvictUseAndClose(config(true));
        awaitFactoryQuiet();

        int clientTimeWait = timeWait.newSince();
        System.out.println("PgJDBC + HikariCP, factory: opened " + seen.sum("portkeeper.connections.opened")
                + ", closed peer " + seen.closedBy("peer") + " local " + seen.closedBy("local") + " reset " + seen.closedBy("reset")
                + " (reason RETIRED " + seen.tally.closed(CloseReason.RETIRED) + ", PEER_CLOSED " + seen.tally.closed(CloseReason.PEER_CLOSED)
                + "), timewait.caused " + seen.sum("portkeeper.timewait.caused")
                + ", timewait.avoided " + seen.sum("portkeeper.timewait.avoided")
                + "; client TIME_WAIT " + clientTimeWait + ", server TIME_WAIT " + Kernel.serverTimeWait(db.getPort()));
        assertThat(seen.sum("portkeeper.connections.opened")).as("every connection PgJDBC opened, through the one shared factory")
                .isEqualTo(2 * N);
        assertThat(seen.closedBy("peer")).as("closed by the server after Terminate: " + seen.tally).isEqualTo(2 * N);
        assertThat(seen.tally.closed(CloseReason.RETIRED)).as("closed by the pool: " + seen.tally).isEqualTo(2 * N);
        assertThat(clientTimeWait).as("client TIME_WAIT: " + Kernel.describe(db)).isZero();
        assertThat(seen.sum("portkeeper.timewait.caused")).as("timewait.caused = kernel").isEqualTo(clientTimeWait);
        assertThat(Kernel.clientCloseWait(db)).isZero();
    }

    @Test
    void stockDriverAndPoolLeaveTheServersIdleCloseInCloseWaitUntilThePoolTouchesTheConnection() throws Exception {
        assumeThat(cluster.majorVersion).as("idle_session_timeout needs PostgreSQL 14").isGreaterThanOrEqualTo(14);
        server = cluster.start("idle_session_timeout=1s");
        InetSocketAddress db = server.address();
        try (CloseWaitAges closeWait = CloseWaitAges.sample(db, Duration.ofMillis(50));
             HikariDataSource pool = new HikariDataSource(config(false))) {
            awaitFilled(pool);

            // Nothing touches the idle connections: the server's close stays unanswered.
            await().atMost(Duration.ofSeconds(20)).until(() -> closeWait.oldest().compareTo(Duration.ofMillis(2_500)) >= 0);
            int lingering = Kernel.clientCloseWait(db);

            long start = System.nanoTime();
            queryPid(pool);
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            System.out.println("PgJDBC + HikariCP, stock, idle_session_timeout 1 s: CLOSE_WAIT " + lingering
                    + " after 2.5 s idle, " + closeWait + "; next getConnection + query " + tookMillis + " ms");
            assertThat(lingering).as("CLOSE_WAIT while the pool holds the closed sessions idle").isEqualTo(N);
        }
    }

    @Test
    void throughTheFactoryTheServersIdleCloseIsAnsweredAtOnceAndThePoolReplacesTheConnection() throws Exception {
        assumeThat(cluster.majorVersion).as("idle_session_timeout needs PostgreSQL 14").isGreaterThanOrEqualTo(14);
        server = cluster.start("idle_session_timeout=1s");
        InetSocketAddress db = server.address();
        Observed seen = observe();
        TimeWaitCount timeWait = TimeWaitCount.toward(db);
        CloseWaitAges ages;
        try (CloseWaitAges closeWait = CloseWaitAges.sample(db, Duration.ofMillis(50));
             HikariDataSource pool = new HikariDataSource(config(true))) {
            ages = closeWait;
            awaitFilled(pool);

            // The server closes each idle session after 1 s; the watcher answers each at once.
            await().atMost(Duration.ofSeconds(20)).until(() -> seen.tally.closed(Ending.PEER, CloseReason.PEER_CLOSED) >= N);
            // Stock leaves them in CLOSE_WAIT for as long as the pool keeps them idle: none here.
            await().during(Duration.ofMillis(2_500)).atMost(Duration.ofSeconds(10)).until(() -> Kernel.clientCloseWait(db) == 0);

            long start = System.nanoTime();
            queryPid(pool);
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertThat(seen.sum("portkeeper.connections.opened")).as("a new session replaced the closed ones").isGreaterThan(N);
            System.out.println("PgJDBC + HikariCP, factory, idle_session_timeout 1 s: next getConnection + query "
                    + tookMillis + " ms");
        }
        awaitFactoryQuiet();
        int clientTimeWait = timeWait.newSince();
        System.out.println("PgJDBC + HikariCP, factory, idle_session_timeout 1 s: opened " + seen.sum("portkeeper.connections.opened")
                + ", closed peer " + seen.closedBy("peer") + " local " + seen.closedBy("local") + " reset " + seen.closedBy("reset")
                + " (reason RETIRED " + seen.tally.closed(CloseReason.RETIRED) + ", PEER_CLOSED " + seen.tally.closed(CloseReason.PEER_CLOSED)
                + "), timewait.caused " + seen.sum("portkeeper.timewait.caused")
                + "; client TIME_WAIT " + clientTimeWait + ", " + ages);
        assertThat(ages.samples()).as("kernel samples over the run").isGreaterThan(40);
        assertThat(ages.oldest()).as("oldest client CLOSE_WAIT: " + ages).isLessThan(CLOSE_WAIT_BOUND);
        assertThat(seen.tally.closed(CloseReason.PEER_CLOSED)).as("answered by the watcher: " + seen.tally).isGreaterThanOrEqualTo(N);
        assertThat(seen.closedBy("peer")).as("every ending: " + seen.tally).isEqualTo(seen.sum("portkeeper.connections.opened"));
        assertThat(clientTimeWait).isZero();
        assertThat(seen.sum("portkeeper.timewait.caused")).as("timewait.caused = kernel").isEqualTo(clientTimeWait);
        assertThat(Kernel.clientCloseWait(db)).isZero();
    }

    @Test
    void stockAConnectionTheApplicationHoldsAcrossTheServersIdleCloseStillSaysOpenAndClosesQuietly() throws Exception {
        assumeThat(cluster.majorVersion).as("idle_session_timeout needs PostgreSQL 14").isGreaterThanOrEqualTo(14);
        server = cluster.start("idle_session_timeout=1s");
        InetSocketAddress db = server.address();
        try (HikariDataSource pool = new HikariDataSource(config(false, 1))) {
            Connection held = pool.getConnection();
            pid(held);
            await().atMost(Duration.ofSeconds(20)).until(() -> Kernel.clientCloseWait(db) == 1);

            assertThat(held.unwrap(PgConnection.class).isClosed()).as("PgJDBC's isClosed() is its socket's").isFalse();
            held.close(); // nothing sent: HikariCP clears the warnings and takes it back
            assertThat(Kernel.clientCloseWait(db)).as("still unanswered, back in the pool").isEqualTo(1);
            // Borrowed again within HikariCP's 500 ms validation bypass, it is handed out as it is.
            String next;
            try {
                next = "pid " + queryPid(pool);
            } catch (SQLException e) {
                next = e.getSQLState() + " " + e.getMessage();
            }
            System.out.println("PgJDBC + HikariCP, stock, connection held across idle_session_timeout: closed quietly, "
                    + "then the next borrow's query: " + next);
        }
    }

    @Test
    void throughTheFactoryAConnectionTheApplicationHoldsAcrossTheServersIdleCloseSaysClosedAndHikarisCloseThrows()
            throws Exception {
        assumeThat(cluster.majorVersion).as("idle_session_timeout needs PostgreSQL 14").isGreaterThanOrEqualTo(14);
        server = cluster.start("idle_session_timeout=1s");
        InetSocketAddress db = server.address();
        Observed seen = observe();
        try (HikariDataSource pool = new HikariDataSource(config(true, 1))) {
            Connection held = pool.getConnection();
            pid(held);
            await().atMost(Duration.ofSeconds(20)).until(() -> seen.tally.closed(Ending.PEER, CloseReason.PEER_CLOSED) == 1);

            assertThat(held.unwrap(PgConnection.class).isClosed()).as("PgJDBC's isClosed() is its socket's").isTrue();

            assertThat(seen.tally.closed(Ending.PEER, CloseReason.PEER_CLOSED)).as("answered by the watcher").isEqualTo(1);
            assertThat(Kernel.clientCloseWait(db)).isZero();
            // HikariCP's close clears the connection's warnings, which PgJDBC refuses on a closed
            // connection; HikariCP passes that on unless it had already evicted the connection.
            assertThatThrownBy(held::close).isInstanceOf(SQLException.class).hasMessage("This connection has been closed.")
                    .extracting(e -> ((SQLException) e).getSQLState()).isEqualTo("08003");
            assertThat(held.isClosed()).as("the proxy is given back all the same").isTrue();
            assertThat(queryPid(pool)).as("HikariCP evicted it (the failure's SQL state, 08003, marks it broken) and opens another")
                    .isPositive();
        }
        awaitFactoryQuiet();
        assertThat(seen.closedBy("peer")).as(seen.tally.toString()).isEqualTo(seen.sum("portkeeper.connections.opened"));
    }

    /** HikariCP with {@value #N} connections, stock or with the recipe as PgJDBC's socket factory. */
    private HikariConfig config(boolean throughFactory) {
        return config(throughFactory, N);
    }

    private HikariConfig config(boolean throughFactory, int connections) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(server.jdbcUrl(""));
        config.setUsername("postgres");
        config.setMaximumPoolSize(connections);
        config.setMinimumIdle(connections);
        config.setConnectionTimeout(10_000);
        config.setPoolName(throughFactory ? "pg-factory" : "pg-stock");
        if (throughFactory) {
            config.addDataSourceProperty("socketFactory", PortkeeperSockets.class.getName());
        }
        return config;
    }

    /**
     * Uses all {@value #N} connections, has the pool evict them (HikariCP's soft eviction, its
     * path for {@code maxLifetime} too), uses the {@value #N} that replace them, then closes the
     * pool: {@code 2 * N} connections closed by the pool. Returns once no connection to the
     * server is left open.
     */
    private void useEvictUseAndClose(HikariConfig config) throws SQLException {
        InetSocketAddress db = server.address();
        Set<Integer> first;
        Set<Integer> second;
        try (HikariDataSource pool = new HikariDataSource(config)) {
            first = useAll(pool);
            pool.getHikariPoolMXBean().softEvictConnections();
            second = useAll(pool);
        }
        assertThat(first).hasSize(N).doesNotContainAnyElementsOf(second);
        assertThat(second).hasSize(N);
        await().atMost(Duration.ofSeconds(20)).until(() -> Kernel.clientEstablished(db) == 0 && Kernel.clientCloseWait(db) == 0
                && Kernel.snapshot().countOnLocalPort(TcpState.ESTABLISHED, db.getPort()) == 0);
    }

    /**
     * Waits until the pool holds its {@value #N} connections, idle. They are not borrowed: under
     * {@code idle_session_timeout} the first borrowed would age while the others are.
     */
    private static void awaitFilled(HikariDataSource pool) {
        await().atMost(Duration.ofSeconds(20)).until(() -> pool.getHikariPoolMXBean().getIdleConnections() == N);
    }

    /** Holds all {@value #N} connections at once, a query on each; returns their server process ids. */
    private static Set<Integer> useAll(HikariDataSource pool) throws SQLException {
        List<Connection> held = new ArrayList<>();
        Set<Integer> pids = new HashSet<>();
        try {
            for (int i = 0; i < N; i++) {
                Connection c = pool.getConnection();
                held.add(c);
                pids.add(pid(c));
            }
        } finally {
            for (Connection c : held) {
                c.close();
            }
        }
        return pids;
    }

    private static int queryPid(HikariDataSource pool) throws SQLException {
        try (Connection c = pool.getConnection()) {
            return pid(c);
        }
    }

    private static int pid(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("select pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /** Waits until the shared factory holds no socket: none open, none draining. */
    private static void awaitFactoryQuiet() {
        await().atMost(Duration.ofSeconds(20)).until(() -> PortkeeperSockets.SHARED.stats().active() == 0
                && PortkeeperSockets.SHARED.stats().idle() == 0 && PortkeeperSockets.SHARED.stats().draining() == 0);
    }

    /** The shared factory's meters and endings from now on (it outlives each test). */
    private static Observed observe() {
        awaitFactoryQuiet();
        MeterRegistry registry = new SimpleMeterRegistry();
        PoolMetrics.of(PortkeeperSockets.SHARED).bindTo(registry);
        TallyListener tally = new TallyListener();
        PortkeeperSockets.SHARED.addListener(tally);
        return new Observed(registry, tally);
    }

    private record Observed(MeterRegistry registry, TallyListener tally) {
        long sum(String counter) {
            return sum(registry.find(counter));
        }

        long closedBy(String by) {
            return sum(registry.find("portkeeper.connections.closed").tag("closed.by", by));
        }

        private static long sum(Search search) {
            double total = search.counters().stream().mapToDouble(Counter::count).sum()
                    + search.functionCounters().stream().mapToDouble(FunctionCounter::count).sum();
            return Math.round(total);
        }
    }
}
