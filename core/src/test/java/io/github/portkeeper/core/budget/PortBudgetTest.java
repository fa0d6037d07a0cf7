package io.github.portkeeper.core.budget;

import io.github.portkeeper.core.ConnectFailedException;
import io.github.portkeeper.core.ConnectGuard;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.LeaseTimeoutException;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PoolListener;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.PortBudgetExhaustedException;
import io.github.portkeeper.core.PortBudgetSnapshot;
import io.github.portkeeper.core.PortBudgetSnapshot.EndpointBudget;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.internal.KernelReads;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.core.testing.FakeTicker;
import io.github.portkeeper.core.testing.Host;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

/**
 * The port budget without a namespace: its arithmetic and validation, range detection (with its
 * fallback, in a private mount namespace where the machine allows), the per-endpoint counts the
 * pool keeps (against stub connections, whose closes count as a local FIN, and a fake clock for
 * the 60 s TIME_WAIT window), the snapshot and the {@code portkeeper.ports.budget.used} gauge.
 * The kernel part is in {@link PortBudgetNamespaceTest}.
 */
class PortBudgetTest {

    private static final Endpoint A = Endpoint.of("budget-a.test", 7000);
    private static final Endpoint B = Endpoint.of("budget-b.test", 7001);
    /** Ten ports, half of them per endpoint: a budget of 5. Kernel counting off: stubs have no sockets. */
    private static final PortBudget FIVE = PortBudget.ofRange(40000, 40009).withShare(0.5).withKernelCounting(false);

    private final StubConnector connector = new StubConnector();
    private final FakeTicker ticker = new FakeTicker();
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final List<Throwable> rejections = new CopyOnWriteArrayList<>();
    private Pool<StubConnection> pool;

    @TempDir
    Path dir;

    private Pool<StubConnection> pool(PortBudget budget, Retirement retirement) {
        pool = Pool.of(connector, PoolConfig.builder().name("budget")
                .maxPerEndpoint(20).maxTotal(40)
                .leaseTimeout(Duration.ofMillis(200))
                .retirement(retirement)
                .portBudget(budget)
                .ticker(ticker)
                .listener(new PoolListener() {
                    @Override
                    public void leaseRejected(Endpoint endpoint, Throwable reason) {
                        rejections.add(reason);
                    }
                })
                .build());
        return pool;
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        threads.shutdownNow();
        assertThat(threads.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        if (pool != null) {
            pool.close();
            await().atMost(Duration.ofSeconds(5)).until(() -> connector.disposedCount() == connector.opened.size());
        }
    }

    // ---------------------------------------------------------------- arithmetic

    @Test
    void perEndpointIsTheShareOfTheRangeRoundedDownAndAtLeastOne() {
        PortBudget b = PortBudget.ofRange(40000, 40199);
        assertThat(b.isEnabled()).isTrue();
        assertThat(b.rangeLow()).isEqualTo(40000);
        assertThat(b.rangeHigh()).isEqualTo(40199);
        assertThat(b.rangeSize()).isEqualTo(200);
        assertThat(b.share()).isEqualTo(0.8);
        assertThat(b.usesKernel()).isTrue();
        assertThat(b.perEndpoint()).isEqualTo(160);
        assertThat(b.withShare(0.5).perEndpoint()).isEqualTo(100);
        assertThat(b.withShare(1.0).perEndpoint()).isEqualTo(200);
        assertThat(b.withShare(0.333).perEndpoint()).isEqualTo(66); // 66.6, rounded down
        assertThat(PortBudget.ofRange(5000, 5000).withShare(0.1).perEndpoint()).isEqualTo(1);
        assertThat(PortBudget.ofRange(1, 65535).perEndpoint()).isEqualTo(52428);
    }

    @Test
    void linuxDefaultRangeAllowsAbout470NewConnectionsPerSecondToOneServer() {
        // DESIGN §1 and docs/port-budget.md: 28,232 ports, each held 60 s by a TIME_WAIT.
        PortBudget linux = PortBudget.ofRange(32768, 60999);
        assertThat(linux.rangeSize()).isEqualTo(28_232);
        assertThat(PortBudget.TIME_WAIT_DURATION).isEqualTo(Duration.ofSeconds(60));
        assertThat(linux.rangeSize() / PortBudget.TIME_WAIT_DURATION.toSeconds()).isEqualTo(470);
        assertThat(linux.perEndpoint()).isEqualTo(22_585);
        assertThat(linux.perEndpoint() / PortBudget.TIME_WAIT_DURATION.toSeconds()).isEqualTo(376);
    }

    @Test
    void withersReturnNewBudgetsAndLeaveTheOriginalAlone() {
        PortBudget b = PortBudget.ofRange(40000, 40199);
        PortBudget half = b.withShare(0.5);
        PortBudget blind = half.withKernelCounting(false);
        assertThat(b.share()).isEqualTo(0.8);
        assertThat(b.usesKernel()).isTrue();
        assertThat(half.usesKernel()).isTrue();
        assertThat(blind.share()).isEqualTo(0.5);
        assertThat(blind.usesKernel()).isFalse();
        assertThat(blind.rangeLow()).isEqualTo(40000);
        assertThat(blind.rangeHigh()).isEqualTo(40199);
        assertThat(b).hasToString("PortBudget{range=40000-40199, share=0.8, perEndpoint=160, kernel=true}");
        assertThat(blind).hasToString("PortBudget{range=40000-40199, share=0.5, perEndpoint=100, kernel=false}");
    }

    @Test
    void disabledBudgetIsOffAndSaysSo() {
        PortBudget off = PortBudget.disabled();
        assertThat(off.isEnabled()).isFalse();
        assertThat(off.usesKernel()).isFalse();
        assertThat(off).hasToString("PortBudget{disabled}");
    }

    @Test
    void poolConfigDefaultsToEightyPercentOfTheHostRangeWithKernelCountingAndNoGuard() throws IOException {
        PoolConfig config = PoolConfig.defaults();
        assertThat(config.portBudget().isEnabled()).isTrue();
        assertThat(config.portBudget().share()).isEqualTo(0.8);
        assertThat(config.portBudget().usesKernel()).isTrue();
        assertThat(config.connectGuard()).isNotNull();
        config.connectGuard().beforeConnect(A); // none(): lets every connect through
        assertThat(config.toBuilder().build().portBudget()).isSameAs(config.portBudget());
    }

    // ---------------------------------------------------------------- validation

    @Test
    void badRangesAreRejectedNamingTheRuleAndTheValue() {
        assertThatThrownBy(() -> PortBudget.ofRange(0, 100)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port budget range must satisfy 1 <= low <= high <= 65535, but was 0-100");
        assertThatThrownBy(() -> PortBudget.ofRange(40100, 40000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port budget range must satisfy 1 <= low <= high <= 65535, but was 40100-40000");
        assertThatThrownBy(() -> PortBudget.ofRange(1024, 65536)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port budget range must satisfy 1 <= low <= high <= 65535, but was 1024-65536");
    }

    @Test
    void badSharesAreRejectedNamingTheRuleAndTheValue() {
        PortBudget b = PortBudget.ofRange(40000, 40199);
        for (double bad : new double[] {0.0, -0.5, 1.01, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThatThrownBy(() -> b.withShare(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("port budget share must be > 0 and <= 1, but was " + bad);
        }
    }

    @Test
    void aDisabledBudgetRefusesASettingItWouldIgnore() {
        PortBudget off = PortBudget.disabled();
        assertThatThrownBy(() -> off.withShare(0.5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port budget share applies only to an enabled budget, not to PortBudget.disabled() "
                        + "(share 0.5 would be ignored); start from PortBudget.defaults() or PortBudget.ofRange(low, high)");
        assertThatThrownBy(() -> off.withKernelCounting(true)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port budget kernel counting applies only to an enabled budget, not to PortBudget.disabled() "
                        + "(kernel counting true would be ignored); start from PortBudget.defaults() or PortBudget.ofRange(low, high)");
        assertThat(off).hasToString("PortBudget{disabled}");
    }

    @Test
    void poolConfigRefusesMissingBudgetOrGuard() {
        assertThatThrownBy(() -> PoolConfig.builder().portBudget(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("portBudget");
        assertThatThrownBy(() -> PoolConfig.builder().connectGuard(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("connectGuard");
    }

    // ---------------------------------------------------------------- range detection

    @Test
    void defaultsReadThisHostsEphemeralRange() throws IOException {
        PortBudget defaults = PortBudget.defaults();
        Path file = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
        if (Host.isLinux() && Files.exists(file)) {
            String[] range = Host.readSysctl(file.toString()).split("\\s+");
            assertThat(defaults.rangeLow()).isEqualTo(Integer.parseInt(range[0]));
            assertThat(defaults.rangeHigh()).isEqualTo(Integer.parseInt(range[1]));
        } else {
            assertThat(defaults.rangeLow()).isEqualTo(32768);
            assertThat(defaults.rangeHigh()).isEqualTo(60999);
        }
        assertThat(defaults.share()).isEqualTo(0.8);
        assertThat(defaults.perEndpoint()).isEqualTo((int) Math.floor(defaults.rangeSize() * 0.8));
    }

    /**
     * The range file is replaced, in a private mount namespace of a child JVM, by a file whose
     * content the child changes case by case: a good range is used, anything the kernel would
     * never print falls back to Linux's default 32768-60999.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void defaultsFallBackToLinuxDefaultRangeWhenTheRangeFileCannotBeUsed() throws Exception {
        Assumptions.assumeTrue(Host.isLinux(), "needs Linux's /proc/sys");
        Assumptions.assumeTrue(Host.isRoot(), "needs root to bind-mount over /proc/sys in a private mount namespace");
        Optional<String> unshare = Host.executable("unshare");
        Assumptions.assumeTrue(unshare.isPresent(), "util-linux's 'unshare' is not installed");
        Path fake = dir.resolve("ip_local_port_range");
        Files.writeString(fake, "32768\t60999\n");

        String[] cases = {
            "1024\\t2047\\n",     // 1: as the kernel prints it
            "40000 40199",        // 2: spaces, no newline
            "",                   // 3: empty (read returns end of file)
            "garbage\\n",         // 4: not numbers
            "5000\\t4000\\n",     // 5: low above high
            "0\\t100\\n",         // 6: port 0
            "1024\\t65536\\n",    // 7: above 65535
            "1024\\n",            // 8: one number
            "1 2 3\\n",           // 9: three numbers
        };
        List<String> command = new ArrayList<>(List.of(unshare.get(), "--mount", "--propagation", "private", "--",
                "sh", "-c", "mount --bind \"$0\" /proc/sys/net/ipv4/ip_local_port_range && exec \"$@\"", fake.toString()));
        List<String> java = new ArrayList<>(List.of(fake.toString()));
        java.addAll(List.of(cases));
        command.addAll(Host.java(RangeProbe.class, java.toArray(new String[0])));
        Host.Result r = Host.run(command, 45);
        boolean setupFailed = r.exitCode() != 0 && Host.results(r.output()).isEmpty()
                && (r.output().contains("unshare: ") || r.output().contains("mount: "));
        Assumptions.assumeFalse(setupFailed, "cannot bind-mount over /proc/sys in a private mount namespace here: " + r);
        assertThat(r.exitCode()).as("%s", r).isZero();
        Map<String, String> seen = Host.results(r.output());
        System.out.println("[PortBudgetTest] range detection: " + seen);

        assertThat(seen).as("%s", r).containsEntry("case1", "1024-2047").containsEntry("case2", "40000-40199");
        for (int i = 3; i <= cases.length; i++) {
            assertThat(seen).as("case %d (%s)\n%s", i, cases[i - 1], r).containsEntry("case" + i, "32768-60999");
        }
        // The host's own range was never touched.
        String[] host = Host.readSysctl("/proc/sys/net/ipv4/ip_local_port_range").split("\\s+");
        assertThat(PortBudget.defaults().rangeLow()).isEqualTo(Integer.parseInt(host[0]));
    }

    // ---------------------------------------------------------------- counts and exhaustion

    @Test
    void snapshotCountsOpenConnectionsAndThisPoolsTimeWaitPerEndpoint() throws IOException {
        pool(FIVE, Retirement.local());
        Lease<StubConnection> a1 = pool.lease(A);
        Lease<StubConnection> a2 = pool.lease(A);
        Lease<StubConnection> a3 = pool.lease(A);
        Lease<StubConnection> b1 = pool.lease(B);
        a3.retire();
        a3.close(); // LOCAL: a FIN from this host, one TIME_WAIT for 60 s

        PortBudgetSnapshot snapshot = pool.portBudget();
        assertThat(snapshot.budget()).isSameAs(FIVE);
        assertThat(snapshot.endpoints()).containsOnlyKeys(A, B);
        EndpointBudget a = snapshot.endpoints().get(A);
        assertThat(a).isEqualTo(new EndpointBudget(5, 2, 1, 0));
        assertThat(a.used()).isEqualTo(3);
        assertThat(a.usedRatio()).isCloseTo(0.6, within(1e-9));
        assertThat(snapshot.endpoints().get(B)).isEqualTo(new EndpointBudget(5, 1, 0, 0));
        assertThat(snapshot.maxUsedRatio()).isCloseTo(0.6, within(1e-9));
        assertThatThrownBy(() -> snapshot.endpoints().put(A, a)).isInstanceOf(UnsupportedOperationException.class);

        a1.close(); // given back, idle: still holds its port
        assertThat(pool.portBudget().endpoints().get(A)).isEqualTo(new EndpointBudget(5, 2, 1, 0));
        a2.close();
        b1.close();
    }

    @Test
    void leaseBeyondTheBudgetWaitsItsTimeoutThenFailsNamingEndpointRangeAndCounts() throws IOException {
        pool(FIVE, Retirement.local());
        List<Lease<StubConnection>> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            held.add(pool.lease(A));
        }
        for (int i = 0; i < 2; i++) {
            try (Lease<StubConnection> l = pool.lease(A)) {
                l.retire();
            }
        }
        int opened = connector.opened.size();

        long t0 = System.nanoTime();
        assertThatThrownBy(() -> pool.lease(A, Duration.ofMillis(300)))
                .isInstanceOfSatisfying(PortBudgetExhaustedException.class, e -> {
                    assertThat(e.endpoint()).isEqualTo(A);
                    assertThat(e.usage()).isEqualTo(new EndpointBudget(5, 3, 2, 0));
                    assertThat(e.getMessage()).isEqualTo("Port budget toward budget-a.test:7000 is spent: 5 of 5 ports allowed"
                            + " (50% of the ephemeral range 40000-40009, 10 ports) are tied up: 3 open connections of this pool,"
                            + " 2 in TIME_WAIT from this pool's own closes in the last 60 s, 0 more held by other sockets on this host."
                            + " Ports come back as TIME_WAIT expires (60 s). To stop spending them, let the server close first"
                            + " (Retirement.awaitPeer), reuse connections longer (maxIdleTime, maxLifetime), spread traffic over more"
                            + " server addresses or ports (each its own endpoint: one host name's several addresses share one budget), widen net.ipv4.ip_local_port_range, or set net.ipv4.tcp_tw_reuse=1"
                            + " (outgoing connections only; never tcp_tw_recycle).");
                });
        long waitedMillis = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("[PortBudgetTest] budget spent: the lease waited " + waitedMillis + " ms (timeout 300 ms)");
        assertThat(waitedMillis).as("waited the lease timeout before giving up").isBetween(290L, 3_000L);
        assertThat(connector.opened).as("no connect attempted past the budget").hasSize(opened);
        assertThat(rejections).hasSize(1).first().isInstanceOf(PortBudgetExhaustedException.class);
        // The budget is per endpoint: another one is not affected.
        pool.lease(B).close();
        held.forEach(Lease::close);
    }

    /**
     * A lease that began waiting for the port budget and is, by the time it gives up, blocked by
     * the pool's limits instead (the budget came back, another lease took the last slot) times out
     * like any lease held back by the limits: a budget exception would report a budget that is
     * not spent and advise on TIME_WAIT when the limits are the answer.
     */
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aLeaseThatWaitedForTheBudgetButIsHeldBackByTheLimitsWhenItGivesUpTimesOut() throws Exception {
        PortBudget three = PortBudget.ofRange(40000, 40002).withShare(1.0).withKernelCounting(false);
        pool = Pool.of(connector, PoolConfig.builder().name("budget").maxPerEndpoint(2).maxTotal(2)
                .retirement(Retirement.local()).portBudget(three).ticker(ticker)
                .listener(new PoolListener() {
                    @Override
                    public void leaseRejected(Endpoint endpoint, Throwable reason) {
                        rejections.add(reason);
                    }
                })
                .build());
        for (int i = 0; i < 2; i++) {
            try (Lease<StubConnection> l = pool.lease(A)) {
                l.retire(); // a TIME_WAIT
            }
        }
        Lease<StubConnection> held = pool.lease(A); // A's budget of 3 is spent; 1 of 2 slots in use
        Future<?> c = threads.submit(() -> {
            Thread.currentThread().setName("budget-waiter");
            try (Lease<StubConnection> l = pool.lease(A, Duration.ofSeconds(2))) {
                return l;
            }
        });
        // Wait until the lease parks in the port budget's wait (not in the queue of the limits).
        await().atMost(Duration.ofSeconds(10)).until(() -> Thread.getAllStackTraces().keySet().stream()
                .filter(t -> "budget-waiter".equals(t.getName()))
                .map(LockSupport::getBlocker)
                .anyMatch(blocker -> blocker != null && blocker.getClass().getSimpleName().equals("PortGate")));
        Lease<StubConnection> other = pool.lease(B, Duration.ofSeconds(10)); // takes the last slot of maxTotal
        ticker.advance(Duration.ofSeconds(62)); // A's TIME_WAITs expire: its budget allows a port again
        assertThat(pool.portBudget().endpoints().get(A)).isEqualTo(new EndpointBudget(3, 1, 0, 0));

        assertThatThrownBy(() -> c.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(LeaseTimeoutException.class)
                .cause().hasMessageContaining("maxTotal 2");
        assertThat(rejections).as("budget rejections").isEmpty();
        other.close();
        held.close();
    }

    @Test
    void waitingLeaseIsServedByAConnectionGivenBackWithinItsTimeout() throws Exception {
        pool(FIVE, Retirement.local());
        List<Lease<StubConnection>> held = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            held.add(pool.lease(A));
        }
        long t0 = System.nanoTime();
        Future<Lease<StubConnection>> waiter = threads.submit(() -> pool.lease(A, Duration.ofSeconds(5)));
        // Still waiting 200 ms on: nothing was given back yet.
        await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(5)).until(() -> !waiter.isDone());
        StubConnection returned = held.get(4).connection();
        held.get(4).close();
        Lease<StubConnection> served = waiter.get(5, TimeUnit.SECONDS);
        long waitedMillis = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("[PortBudgetTest] budget spent: a lease waited " + waitedMillis + " ms for a returned connection");
        assertThat(served.connection()).isSameAs(returned);
        assertThat(served.isReused()).isTrue();
        assertThat(waitedMillis).isGreaterThanOrEqualTo(200);
        assertThat(connector.opened).hasSize(5);
        served.close();
        held.subList(0, 4).forEach(Lease::close);
    }

    @Test
    void aConnectionThisHostClosedFirstKeepsItsPortSixtySecondsThenThePoolServesAgain() throws IOException {
        pool(FIVE, Retirement.local());
        for (int i = 0; i < 5; i++) {
            try (Lease<StubConnection> l = pool.lease(A)) {
                l.retire();
            }
        }
        assertThat(pool.portBudget().endpoints().get(A)).isEqualTo(new EndpointBudget(5, 0, 5, 0));
        assertThatThrownBy(() -> pool.lease(A, Duration.ofMillis(50))).isInstanceOf(PortBudgetExhaustedException.class);

        ticker.advance(Duration.ofMillis(59_999));
        assertThat(pool.portBudget().endpoints().get(A).recentTimeWait()).as("TIME_WAIT still held at 59.999 s").isEqualTo(5);
        assertThatThrownBy(() -> pool.lease(A, Duration.ofMillis(50))).isInstanceOf(PortBudgetExhaustedException.class);

        ticker.advance(Duration.ofMillis(1_001)); // 61 s: past TCP_TIMEWAIT_LEN, whatever the second boundaries
        // Nothing left toward A: the pool forgets the endpoint, which therefore uses none of the budget.
        assertThat(pool.portBudget().endpoints().getOrDefault(A, new EndpointBudget(5, 0, 0, 0))).isEqualTo(new EndpointBudget(5, 0, 0, 0));
        try (Lease<StubConnection> l = pool.lease(A, Duration.ofMillis(50))) {
            assertThat(l.isReused()).isFalse();
        }
    }

    @Test
    void timeWaitIsCountedForTheWholeSixtySecondsOfEachClose() throws IOException {
        pool(FIVE.withShare(1.0), Retirement.local());
        for (int second = 0; second < 10; second++) {
            try (Lease<StubConnection> l = pool.lease(A)) {
                l.retire();
            }
            ticker.advance(Duration.ofSeconds(1));
        }
        // Closes at t = 0 s, 1 s, ..., 9 s; now t = 10 s.
        assertThat(pool.portBudget().endpoints().get(A).recentTimeWait()).isEqualTo(10);
        ticker.advance(Duration.ofSeconds(49)); // t = 59 s: every close is less than 60 s old
        assertThat(pool.portBudget().endpoints().get(A).recentTimeWait()).isEqualTo(10);
        ticker.advance(Duration.ofSeconds(6)); // t = 65 s: closes at 0..3 s are more than 61 s old
        assertThat(pool.portBudget().endpoints().get(A).recentTimeWait()).isBetween(5, 6);
        ticker.advance(Duration.ofSeconds(6)); // t = 71 s: all of them are
        assertThat(pool.portBudget().endpoints().get(A).recentTimeWait()).isZero();
    }

    @Test
    void failedConnectGivesItsPortBack() {
        pool(FIVE, Retirement.local());
        connector.failConnects = true;
        for (int i = 0; i < 10; i++) {
            assertThatThrownBy(() -> pool.lease(A)).isInstanceOf(ConnectFailedException.class);
        }
        // Nothing left toward A: the pool forgets the endpoint, which therefore uses none of the budget.
        assertThat(pool.portBudget().endpoints().getOrDefault(A, new EndpointBudget(5, 0, 0, 0))).isEqualTo(new EndpointBudget(5, 0, 0, 0));
    }

    /**
     * A guard that fails with something other than a {@link io.github.portkeeper.core.PoolException}
     * (a bug in a user's guard, a misconfigured library) must not leak the port and the slot it
     * was given: the lease fails, the pool stays usable.
     */
    @Test
    void guardThrowingAnUncheckedExceptionGivesThePortAndTheSlotBack() throws IOException {
        ConnectGuard flaky = new ConnectGuard() {
            private int calls;

            @Override
            public synchronized void beforeConnect(Endpoint endpoint) {
                if (calls++ == 0) {
                    throw new IllegalStateException("guard broke");
                }
            }
        };
        pool = Pool.of(connector, PoolConfig.builder().maxPerEndpoint(1).maxTotal(1)
                .leaseTimeout(Duration.ofMillis(200)).portBudget(FIVE).connectGuard(flaky).ticker(ticker).build());
        assertThatThrownBy(() -> pool.lease(A)).isInstanceOf(IllegalStateException.class);
        assertThat(pool.portBudget().endpoints().get(A).live()).as("port given back").isZero();
        try (Lease<StubConnection> l = pool.lease(A)) {
            assertThat(l.connection()).isNotNull(); // the slot came back too (maxPerEndpoint 1)
        }
    }

    @Test
    void disabledBudgetNeverRefusesAndReportsNoUsage() throws IOException {
        pool(PortBudget.disabled(), Retirement.local());
        List<Lease<StubConnection>> held = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            held.add(pool.lease(A));
        }
        held.forEach(l -> {
            l.retire();
            l.close();
        });
        for (int i = 0; i < 20; i++) {
            pool.lease(A).close();
        }
        assertThat(pool.portBudget().budget().isEnabled()).isFalse();
        assertThat(pool.portBudget().maxUsedRatio()).as("PortBudgetSnapshot.maxUsedRatio: 0 when the budget is disabled").isZero();
    }

    // ---------------------------------------------------------------- the gauge

    @Test
    void gaugeReportsTheShareOfTheBudgetInUsePerEndpoint() throws IOException {
        pool(FIVE, Retirement.local());
        MeterRegistry registry = new SimpleMeterRegistry();
        new PoolMetrics(pool).bindTo(registry);
        Lease<StubConnection> a1 = pool.lease(A);
        Lease<StubConnection> a2 = pool.lease(A);
        Lease<StubConnection> b1 = pool.lease(B);
        assertThat(budgetGauge(registry, A).value()).isCloseTo(0.4, within(1e-9));
        assertThat(budgetGauge(registry, B).value()).isCloseTo(0.2, within(1e-9));

        a1.retire();
        a1.close(); // open → TIME_WAIT: the port stays used
        assertThat(budgetGauge(registry, A).value()).isCloseTo(0.4, within(1e-9));
        a2.close(); // idle: still open
        assertThat(budgetGauge(registry, A).value()).isCloseTo(0.4, within(1e-9));
        ticker.advance(Duration.ofSeconds(62));
        assertThat(budgetGauge(registry, A).value()).isCloseTo(0.2, within(1e-9));
        b1.close();

        Gauge gauge = budgetGauge(registry, A);
        assertThat(gauge.getId().getTag("pool")).isEqualTo("budget");
        assertThat(gauge.getId().getDescription()).contains("port budget");
    }

    @Test
    void gaugeWithoutEndpointTagReportsTheFullestEndpoint() throws IOException {
        pool(FIVE, Retirement.local());
        MeterRegistry registry = new SimpleMeterRegistry();
        PoolMetrics.builder(pool).endpointTag(false).build().bindTo(registry);
        Lease<StubConnection> a1 = pool.lease(A);
        List<Lease<StubConnection>> bs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            bs.add(pool.lease(B));
        }
        assertThat(registry.find("portkeeper.ports.budget.used").gauges()).hasSize(1);
        Gauge gauge = registry.get("portkeeper.ports.budget.used").tag("pool", "budget").gauge();
        assertThat(gauge.getId().getTag("endpoint")).isNull();
        assertThat(gauge.value()).isCloseTo(0.8, within(1e-9));
        a1.close();
        bs.forEach(Lease::close);
    }

    @Test
    void noBudgetGaugeWhenTheBudgetIsDisabled() throws IOException {
        pool(PortBudget.disabled(), Retirement.local());
        MeterRegistry registry = new SimpleMeterRegistry();
        new PoolMetrics(pool).bindTo(registry);
        pool.lease(A).close();
        assertThat(registry.find("portkeeper.ports.budget.used").gauges()).isEmpty();
        assertThat(registry.find("portkeeper.connections.opened").counters()).isNotEmpty();
    }

    // ---------------------------------------------------------------- real sockets

    /**
     * Only a local FIN leaves a TIME_WAIT here: a connection closed with RST gives its port back
     * at once, so under {@link Retirement#reset()} the budget never runs out.
     */
    @Test
    void resetClosesGiveThePortBackAtOnce() throws IOException {
        try (HoldingServer server = serverOnAnUnusedPort();
             Pool<SocketChannel> sockets = Pool.of(new Channels(), PoolConfig.builder().name("reset")
                     .maxPerEndpoint(5).maxTotal(5).leaseTimeout(Duration.ofMillis(200))
                     .retirement(Retirement.reset()).portBudget(FIVE).build())) {
            Endpoint e = Endpoint.of("127.0.0.1", server.port());
            for (int i = 0; i < 30; i++) {
                try (Lease<SocketChannel> l = sockets.lease(e)) {
                    l.retire();
                }
            }
            // Nothing left toward e: the pool forgets the endpoint, which therefore uses none of the budget.
            assertThat(sockets.portBudget().endpoints().getOrDefault(e, new EndpointBudget(5, 0, 0, 0))).isEqualTo(new EndpointBudget(5, 0, 0, 0));
        }
    }

    /**
     * With the kernel count on, sockets that ended without a TIME_WAIT here (RESET, or PEER) are
     * gone from the kernel's table: they must not turn into "other sockets" until the next
     * refresh. A pool holding 10 connections (a fifth of its budget, so its kernel count is
     * kept), counted by a read that started once all ten were open, churns through 30 more that
     * it closes with RST while the JVM's kernel reader is held off: no read falls in the churn,
     * so every count between is exact whatever the load (a read racing a connect or a close may
     * count it as another socket until the following read: the budget's safe side, not looked at
     * here). The next read still finds nobody else.
     */
    @Test
    @Timeout(value = 45, unit = TimeUnit.SECONDS)
    @SuppressWarnings("try") // resources held open for the block, not used in it
    void connectionsClosedWithoutTimeWaitAreNotCountedAsOtherSockets() throws Exception {
        Assumptions.assumeTrue(KernelProbe.linux().isAvailable(), "needs /proc/net/tcp");
        PortBudget fifty = PortBudget.ofRange(40000, 40099).withShare(0.5); // kernel counting on
        try (HoldingServer server = serverOnAnUnusedPort();
             Pool<SocketChannel> sockets = Pool.of(new Channels(), PoolConfig.builder().name("reset-kernel")
                     .maxPerEndpoint(20).maxTotal(20).leaseTimeout(Duration.ofMillis(100))
                     .retirement(Retirement.reset()).portBudget(fifty).build())) {
            Endpoint e = Endpoint.of("127.0.0.1", server.port());
            List<Lease<SocketChannel>> held = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                held.add(sockets.lease(e)); // the first waits for the endpoint's first kernel count
            }
            // A read that raced these connects counts the sockets opened between its mark and its
            // table twice, once as others', until the next read (the budget's safe side). On a
            // loaded machine the first lease may go on before the read it asked for has taken its
            // mark, and up to five connects (at a tenth of the budget a lease waits for a read)
            // may then land in that read's table. Only a read that starts once all ten are open
            // counts exactly: holding the reader waits out the read in progress, and the next one
            // (asked for by the leases, or periodic: at most 8 s apart) starts after.
            long readsWithAllOpen;
            try (AutoCloseable readInProgressDone = KernelReads.holdReads()) {
                readsWithAllOpen = KernelReads.count();
            }
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(20)).until(() -> KernelReads.count() > readsWithAllOpen);
            assertThat(sockets.portBudget().endpoints().get(e))
                    .as(() -> "the kernel's sockets toward " + server.address() + " now: " + socketsToward(server.address()))
                    .isEqualTo(new EndpointBudget(50, 10, 0, 0));
            List<Integer> othersSeen = new ArrayList<>();
            long readsAtChurn;
            try (AutoCloseable noReads = KernelReads.holdReads()) {
                readsAtChurn = KernelReads.count();
                for (int i = 0; i < 30; i++) {
                    try (Lease<SocketChannel> l = sockets.lease(e)) {
                        l.retire();
                    }
                    othersSeen.add(sockets.portBudget().endpoints().get(e).otherSockets());
                }
                assertThat(KernelReads.count()).as("kernel reads during the churn").isEqualTo(readsAtChurn);
            }
            System.out.println("[PortBudgetTest] other sockets seen after each of 30 RST closes next to 10 held: " + othersSeen);
            assertThat(othersSeen).as("other sockets toward %s after each RST close", e).containsOnly(0);
            assertThat(KernelProbe.linux().snapshot().countToRemote(TcpState.ESTABLISHED, server.address())).isEqualTo(10);
            // The next periodic read (at most 8 s apart while the counts stand still) agrees.
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(20)).until(() -> KernelReads.count() > readsAtChurn);
            assertThat(sockets.portBudget().endpoints().get(e)).as("after the next kernel read").isEqualTo(new EndpointBudget(50, 10, 0, 0));
            held.forEach(Lease::close);
        }
    }

    /**
     * Sockets toward the server that the pool did not open (here: plain sockets of this test,
     * standing for another process) take ports from the budget before the pool's first
     * connection, not only once its housekeeping thread has run: a cold pool that leases at once
     * must not take the ports others hold.
     */
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void otherSocketsCountFromThePoolsVeryFirstConnection() throws Exception {
        Assumptions.assumeTrue(KernelProbe.linux().isAvailable(), "needs /proc/net/tcp");
        PortBudget ten = PortBudget.ofRange(50000, 50019).withShare(0.5); // 10 ports per endpoint, kernel counting on
        List<Socket> others = new ArrayList<>();
        try (HoldingServer server = serverOnAnUnusedPort();
             Pool<SocketChannel> sockets = Pool.of(new Channels(), PoolConfig.builder().name("cold")
                     .maxPerEndpoint(20).maxTotal(20).leaseTimeout(Duration.ofMillis(100)).portBudget(ten).build())) {
            for (int i = 0; i < 10; i++) {
                others.add(new Socket(server.address().getAddress(), server.port()));
            }
            Endpoint e = Endpoint.of("127.0.0.1", server.port());
            assertThatThrownBy(() -> sockets.lease(e).close())
                    .as("first lease while 10 other sockets hold the endpoint's 10 ports")
                    .isInstanceOf(PortBudgetExhaustedException.class);
        } finally {
            for (Socket s : others) {
                s.close();
            }
        }
    }

    /**
     * A pool that looked at the kernel once (no other sockets then) and idles far below its
     * budget must look again before it takes more than a tenth of the budget: meanwhile others
     * (here: 45 plain sockets of this test) may have taken most of the ports.
     */
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void idlePoolLooksAtTheKernelAgainBeforeItTakesMorePorts() throws Exception {
        Assumptions.assumeTrue(KernelProbe.linux().isAvailable(), "needs /proc/net/tcp");
        PortBudget fifty = PortBudget.ofRange(40000, 40099).withShare(0.5); // 50 per endpoint, kernel counting on
        List<Socket> others = new ArrayList<>();
        List<Lease<SocketChannel>> held = new ArrayList<>();
        try (HoldingServer server = serverOnAnUnusedPort();
             Pool<SocketChannel> sockets = Pool.of(new Channels(), PoolConfig.builder().name("idle-then-burst")
                     .maxPerEndpoint(20).maxTotal(20).leaseTimeout(Duration.ofMillis(100)).portBudget(fifty).build())) {
            Endpoint e = Endpoint.of("127.0.0.1", server.port());
            sockets.lease(e).close(); // looks at the kernel (nothing there), then one idle connection
            assertThat(sockets.portBudget().endpoints().get(e)).isEqualTo(new EndpointBudget(50, 1, 0, 0));
            for (int i = 0; i < 45; i++) {
                others.add(new Socket(server.address().getAddress(), server.port()));
            }
            int refused = 0;
            for (int i = 0; i < 10; i++) {
                try {
                    held.add(sockets.lease(e));
                } catch (PortBudgetExhaustedException spent) {
                    refused++;
                }
            }
            int ours = held.size();
            int kernel = KernelProbe.linux().snapshot().countToRemote(TcpState.ESTABLISHED, server.address());
            System.out.println("[PortBudgetTest] idle pool, then 45 other sockets, then 10 leases: " + ours + " served, "
                    + refused + " refused; " + sockets.portBudget().endpoints().get(e) + "; kernel ESTABLISHED " + kernel);
            assertThat(kernel).isEqualTo(45 + ours);
            assertThat(ours + 45).as("sockets toward the endpoint, ours and others', against a budget of 50").isLessThanOrEqualTo(50);
            assertThat(refused).isEqualTo(10 - ours);
        } finally {
            held.forEach(Lease::close);
            for (Socket s : others) {
                s.close();
            }
        }
    }

    /**
     * A connector that finds its server by means of its own (service discovery, a custom DNS
     * resolver, a SOCKS proxy's remote lookup) reaches endpoints the JVM cannot resolve, so the
     * kernel cannot be read for them and the budget counts this pool's sockets only. Its TIME_WAITs
     * leave that count after 60 s like any other's: they never turn into "other sockets".
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void timeWaitTowardAnEndpointTheJvmCannotResolveLeavesTheBudgetAfterSixtySeconds() throws Exception {
        Assumptions.assumeTrue(KernelProbe.linux().isAvailable(), "needs /proc/net/tcp");
        PortBudget ten = PortBudget.ofRange(40000, 40009).withShare(1.0); // 10 ports per endpoint, kernel counting on
        try (HoldingServer server = serverOnAnUnusedPort();
             Pool<SocketChannel> sockets = Pool.of(endpoint -> SocketChannel.open(server.address()),
                     PoolConfig.builder().name("own-resolver").maxPerEndpoint(1).maxTotal(1)
                             .leaseTimeout(Duration.ofMillis(100)).retirement(Retirement.local())
                             .portBudget(ten).ticker(ticker).build())) {
            Endpoint e = Endpoint.of("pk.invalid", server.port()); // .invalid never resolves (RFC 6761)
            for (int i = 0; i < 10; i++) {
                try (Lease<SocketChannel> l = sockets.lease(e)) {
                    l.retire();
                }
                ticker.advance(Duration.ofSeconds(61));
            }
            assertThat(sockets.portBudget().endpoints().get(e))
                    .as("ten TIME_WAITs of ours, each more than 60 s old").isEqualTo(new EndpointBudget(10, 0, 0, 0));
            for (int i = 0; i < 10; i++) {
                try (Lease<SocketChannel> l = sockets.lease(e)) {
                    l.retire();
                }
            }
            assertThat(sockets.portBudget().endpoints().get(e)).isEqualTo(new EndpointBudget(10, 0, 10, 0));
            assertThatThrownBy(() -> sockets.lease(e).close()).as("the budget is spent by our own TIME_WAITs")
                    .isInstanceOf(PortBudgetExhaustedException.class);
        }
    }

    private static Gauge budgetGauge(MeterRegistry registry, Endpoint endpoint) {
        return registry.get("portkeeper.ports.budget.used").tag("endpoint", endpoint.toString()).gauge();
    }

    /** Local ports of the sockets toward {@code remote} by state, for a failure message. */
    /**
     * A server on a loopback port no socket of this host points at. A port bound to 0 can be one
     * an earlier test's server had, with that test's client TIME_WAIT toward it still in the
     * kernel's table for up to 60 s: real sockets toward the endpoint, which the budget rightly
     * counts as other sockets, but not what these tests count on.
     */
    private static HoldingServer serverOnAnUnusedPort() throws IOException {
        for (int attempt = 0; ; attempt++) {
            HoldingServer server = HoldingServer.onLoopback(0);
            if (!KernelProbe.linux().isAvailable() || "none".equals(socketsToward(server.address())) || attempt == 20) {
                return server;
            }
            server.close();
        }
    }

    private static String socketsToward(InetSocketAddress remote) {
        SocketTable table = KernelProbe.linux().snapshot();
        StringBuilder b = new StringBuilder();
        for (TcpState state : TcpState.values()) {
            java.util.Set<Integer> ports = table.localPortsToRemote(state, remote);
            if (!ports.isEmpty()) {
                b.append(state).append(' ').append(ports).append("; ");
            }
        }
        return b.length() == 0 ? "none" : b.toString();
    }
}
