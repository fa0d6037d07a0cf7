package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import io.github.portkeeper.core.testing.StubPoolTestBase;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class PoolTest extends StubPoolTestBase {

    private static final Endpoint A = Endpoint.of("a.example", 80);
    private static final Endpoint B = Endpoint.of("b.example", 80);

    @Test
    void releasedConnectionIsReusedForTheSameEndpoint() throws IOException {
        pool(PoolConfig.builder());
        StubConnection first;
        try (Lease<StubConnection> lease = pool.lease(A)) {
            first = lease.connection();
            assertThat(lease.isReused()).isFalse();
        }
        try (Lease<StubConnection> lease = pool.lease(A)) {
            assertThat(lease.connection()).isSameAs(first);
            assertThat(lease.isReused()).isTrue();
        }
        assertThat(connector.opened).hasSize(1);
    }

    @Test
    void connectionOfOneEndpointNeverServesAnother() throws IOException {
        pool(PoolConfig.builder());
        try (Lease<StubConnection> a = pool.lease(A)) {
            a.connection();
        }
        try (Lease<StubConnection> b = pool.lease(B)) {
            assertThat(b.connection().endpoint).isEqualTo(B);
        }
        Endpoint tlsA = Endpoint.of("a.example", 80, "tls-profile-1");
        try (Lease<StubConnection> t = pool.lease(tlsA)) {
            assertThat(t.connection().endpoint).isEqualTo(tlsA);
        }
        assertThat(connector.opened).hasSize(3);
    }

    @Test
    void idleConnectionsAreReusedMostRecentlyReleasedFirst() throws IOException {
        pool(PoolConfig.builder());
        Lease<StubConnection> l1 = pool.lease(A);
        Lease<StubConnection> l2 = pool.lease(A);
        Lease<StubConnection> l3 = pool.lease(A);
        StubConnection c1 = l1.connection();
        StubConnection c2 = l2.connection();
        StubConnection c3 = l3.connection();
        l3.close();
        ticker.advance(Duration.ofMillis(1));
        l1.close();
        ticker.advance(Duration.ofMillis(1));
        l2.close();
        List<StubConnection> order = new ArrayList<>();
        List<Lease<StubConnection>> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Lease<StubConnection> l = pool.lease(A);
            held.add(l);
            order.add(l.connection());
        }
        assertThat(order).containsExactly(c2, c1, c3);
        held.forEach(Lease::close);
    }

    @Test
    void perEndpointLimitMakesTheNextLeaseWaitAndTimeOut() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(2).maxTotal(10));
        Lease<StubConnection> l1 = pool.lease(A);
        Lease<StubConnection> l2 = pool.lease(A);
        assertThatThrownBy(() -> pool.lease(A, Duration.ofMillis(50)))
                .isInstanceOf(LeaseTimeoutException.class)
                .hasMessageContaining("a.example:80")
                .hasMessageContaining("maxPerEndpoint 2");
        try (Lease<StubConnection> b = pool.lease(B, Duration.ofMillis(50))) {
            assertThat(b.connection().endpoint).isEqualTo(B);
        }
        assertThat(events.count("timeout")).isEqualTo(1);
        l1.close();
        l2.close();
        assertThat(pool.stats().pending()).isZero();
    }

    @Test
    void totalLimitCapsAllEndpointsTogether() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(2).maxTotal(3));
        Lease<StubConnection> a1 = pool.lease(A);
        Lease<StubConnection> a2 = pool.lease(A);
        Lease<StubConnection> b1 = pool.lease(B);
        assertThatThrownBy(() -> pool.lease(B, Duration.ofMillis(50))).isInstanceOf(LeaseTimeoutException.class)
                .hasMessageContaining("maxTotal 3");
        a1.close();
        // A's idle connection is retired to make room for B under the total limit.
        try (Lease<StubConnection> b2 = pool.lease(B, Duration.ofSeconds(5))) {
            assertThat(b2.connection().endpoint).isEqualTo(B);
        }
        assertThat(events.count("closed LOCAL EVICTED a.example:80")).isEqualTo(1);
        a2.close();
        b1.close();
    }

    @Test
    @SuppressWarnings("try") // resources held open for the block, not used in it
    void waitingLeasesAreServedFirstComeFirstServed() throws Exception {
        pool(PoolConfig.builder().maxPerEndpoint(1).maxTotal(1));
        Lease<StubConnection> held = pool.lease(A);
        List<Integer> served = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Future<?>> waiters = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            int id = i;
            waiters.add(threads.submit(() -> {
                try (Lease<StubConnection> l = pool.lease(A, Duration.ofSeconds(10))) {
                    served.add(id);
                }
                return null;
            }));
            // Queue them in a known order: wait until this one is pending before starting the next.
            await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats().pending() == id + 1);
        }
        held.close();
        for (Future<?> f : waiters) {
            f.get(10, TimeUnit.SECONDS);
        }
        assertThat(served).containsExactly(0, 1, 2, 3, 4);
        assertThat(connector.opened).hasSize(1);
    }

    @Test
    @SuppressWarnings("try") // resources held open for the block, not used in it
    void newLeaseDoesNotJumpAheadOfWaitingOnes() throws Exception {
        pool(PoolConfig.builder().maxPerEndpoint(1).maxTotal(1));
        Lease<StubConnection> held = pool.lease(A);
        StubConnection only = held.connection();
        CountDownLatch waiterServed = new CountDownLatch(1);
        CountDownLatch waiterMayRelease = new CountDownLatch(1);
        Future<StubConnection> waiter = threads.submit(() -> {
            try (Lease<StubConnection> l = pool.lease(A, Duration.ofSeconds(10))) {
                waiterServed.countDown();
                assertThat(waiterMayRelease.await(10, TimeUnit.SECONDS)).isTrue();
                return l.connection();
            }
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats().pending() == 1);
        held.close();
        // Whoever asks right after the release finds it handed to the waiter: nothing to take.
        assertThatThrownBy(() -> pool.lease(A, Duration.ZERO)).isInstanceOf(LeaseTimeoutException.class);
        assertThat(waiterServed.await(5, TimeUnit.SECONDS)).isTrue();
        waiterMayRelease.countDown();
        assertThat(waiter.get(5, TimeUnit.SECONDS)).as("the waiter got the released connection").isSameAs(only);
    }

    @Test
    void connectionPastItsLifetimeIsRetiredNotReused() throws IOException {
        pool(PoolConfig.builder().maxLifetime(Duration.ofMinutes(10)));
        StubConnection first;
        try (Lease<StubConnection> l = pool.lease(A)) {
            first = l.connection();
        }
        ticker.advance(Duration.ofMinutes(10));
        try (Lease<StubConnection> l = pool.lease(A)) {
            assertThat(l.connection()).isNotSameAs(first);
        }
        assertThat(first.disposed).isTrue();
        assertThat(events.count("closed LOCAL LIFETIME")).isEqualTo(1);
    }

    @Test
    void lifetimeJitterShortensEachLifetimeWithinTheJitter() throws IOException {
        pool = Pool.of(connector, PoolConfig.builder().ticker(ticker).maxPerEndpoint(50).maxTotal(50)
                .maxLifetime(Duration.ofMinutes(10)).lifetimeJitter(Duration.ofMinutes(2))
                .maxIdleTime(Duration.ofHours(1)).build());
        List<Lease<StubConnection>> leases = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            leases.add(pool.lease(A));
        }
        leases.forEach(Lease::close);
        ticker.advance(Duration.ofMinutes(8).minusNanos(1));
        pool.engine().maintain();
        assertThat(pool.stats().idle()).isEqualTo(50);
        ticker.advance(Duration.ofMinutes(1));
        pool.engine().maintain();
        int afterNine = pool.stats().idle();
        assertThat(afterNine).as("some but not all expired between 8 and 9 minutes").isBetween(1, 49);
        ticker.advance(Duration.ofMinutes(1));
        pool.engine().maintain();
        assertThat(pool.stats().idle()).isZero();
    }

    @Test
    void connectionPastItsLeaseBudgetIsRetired() throws IOException {
        pool(PoolConfig.builder().maxLeasesPerConnection(3));
        List<StubConnection> seen = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            try (Lease<StubConnection> l = pool.lease(A)) {
                seen.add(l.connection());
            }
        }
        assertThat(seen.get(0)).isSameAs(seen.get(1)).isSameAs(seen.get(2));
        assertThat(seen.get(3)).isNotSameAs(seen.get(0));
        assertThat(events.count("closed LOCAL LEASE_BUDGET")).isEqualTo(1);
    }

    @Test
    void connectionPastItsLifetimeGetsOneLastUseWhenTheProtocolCanAskThePeerToClose() throws IOException {
        StubConnector lastUseConnector = new StubConnector() {
            @Override
            public boolean supportsLastUse() {
                return true;
            }
        };
        pool = Pool.of(lastUseConnector, PoolConfig.builder().ticker(ticker).listener(events)
                .maxLifetime(Duration.ofMinutes(10)).lifetimeJitter(Duration.ZERO).build());
        StubConnection first;
        try (Lease<StubConnection> l = pool.lease(A)) {
            first = l.connection();
            assertThat(l.isLastUse()).isFalse();
        }
        ticker.advance(Duration.ofMinutes(10));
        try (Lease<StubConnection> l = pool.lease(A)) {
            assertThat(l.connection()).isSameAs(first);
            assertThat(l.isLastUse()).isTrue();
        }
        assertThat(first.disposed).isTrue();
        try (Lease<StubConnection> l = pool.lease(A)) {
            assertThat(l.connection()).isNotSameAs(first);
            assertThat(l.isLastUse()).isFalse();
        }
        assertThat(events.count("closed LOCAL LIFETIME")).isEqualTo(1);
        pool.close();
        assertThat(lastUseConnector.disposedCount()).isEqualTo(lastUseConnector.opened.size());
        pool = null;
    }

    @Test
    void expiredConnectionHandedStraightToAWaiterIsMarkedAsItsLastUse() throws Exception {
        StubConnector lastUseConnector = new StubConnector() {
            @Override
            public boolean supportsLastUse() {
                return true;
            }
        };
        pool = Pool.of(lastUseConnector, PoolConfig.builder().ticker(ticker).listener(events).maxPerEndpoint(1).maxTotal(1)
                .maxLifetime(Duration.ofMinutes(10)).lifetimeJitter(Duration.ZERO).build());
        Lease<StubConnection> held = pool.lease(A);
        StubConnection first = held.connection();
        Future<Boolean> waiter = threads.submit(() -> {
            try (Lease<StubConnection> l = pool.lease(A, Duration.ofSeconds(10))) {
                return l.connection() == first && l.isLastUse();
            }
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats().pending() == 1);
        ticker.advance(Duration.ofMinutes(11));
        held.close();
        assertThat(waiter.get(5, TimeUnit.SECONDS)).as("the waiter got the expired connection as its last use").isTrue();
        assertThat(first.disposed).isTrue();
        pool.close();
        assertThat(lastUseConnector.disposedCount()).isEqualTo(lastUseConnector.opened.size());
        pool = null;
    }

    @Test
    void connectionIdleLongerThanMaxIdleTimeIsRetired() throws IOException {
        pool(PoolConfig.builder().maxIdleTime(Duration.ofSeconds(30)));
        try (Lease<StubConnection> l = pool.lease(A)) {
            l.connection();
        }
        ticker.advance(Duration.ofSeconds(29));
        pool.engine().maintain();
        assertThat(pool.stats().idle()).isEqualTo(1);
        ticker.advance(Duration.ofSeconds(1));
        pool.engine().maintain();
        assertThat(pool.stats().idle()).isZero();
        assertThat(events.count("closed LOCAL IDLE_TIMEOUT")).isEqualTo(1);
    }

    @Test
    void brokenConnectionIsDiscarded() throws IOException {
        pool(PoolConfig.builder());
        StubConnection first;
        try (Lease<StubConnection> l = pool.lease(A)) {
            first = l.connection();
            l.markBroken();
        }
        assertThat(first.disposed).isTrue();
        try (Lease<StubConnection> l = pool.lease(A)) {
            assertThat(l.connection()).isNotSameAs(first);
        }
        assertThat(events.count("closed LOCAL BROKEN")).isEqualTo(1);
    }

    @Test
    void retiredLeaseIsNotReused() throws IOException {
        pool(PoolConfig.builder());
        StubConnection first;
        try (Lease<StubConnection> l = pool.lease(A)) {
            first = l.connection();
            l.retire();
        }
        try (Lease<StubConnection> l = pool.lease(A)) {
            assertThat(l.connection()).isNotSameAs(first);
        }
        assertThat(events.count("closed LOCAL RETIRED")).isEqualTo(1);
    }

    @Test
    void connectionRejectedByValidationIsReplaced() throws IOException {
        pool(PoolConfig.builder());
        StubConnection first;
        try (Lease<StubConnection> l = pool.lease(A)) {
            first = l.connection();
        }
        connector.validator = c -> c != first;
        try (Lease<StubConnection> l = pool.lease(A)) {
            assertThat(l.connection()).isNotSameAs(first);
        }
        assertThat(events.count("closed LOCAL VALIDATION_FAILED")).isEqualTo(1);
    }

    @Test
    void failedConnectNamesTheEndpointAndFreesItsSlot() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(1).maxTotal(1));
        connector.failConnects = true;
        assertThatThrownBy(() -> pool.lease(A))
                .isInstanceOf(ConnectFailedException.class)
                .hasMessageContaining("a.example:80")
                .hasMessageContaining("Connection refused")
                .hasCauseInstanceOf(ConnectException.class);
        assertThat(pool.engine().totalAllocated()).isZero();
        connector.failConnects = false;
        try (Lease<StubConnection> l = pool.lease(A, Duration.ofMillis(100))) {
            assertThat(l.connection()).isNotNull();
        }
    }

    @Test
    void failedConnectLetsAWaiterTryInstead() throws Exception {
        pool(PoolConfig.builder().maxPerEndpoint(1).maxTotal(1));
        Lease<StubConnection> held = pool.lease(A);
        Future<StubConnection> waiter = threads.submit(() -> {
            try (Lease<StubConnection> l = pool.lease(A, Duration.ofSeconds(10))) {
                return l.connection();
            }
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats().pending() == 1);
        held.markBroken();
        held.close();
        assertThat(waiter.get(5, TimeUnit.SECONDS)).isNotNull();
        assertThat(connector.opened).hasSize(2);
    }

    @Test
    @SuppressWarnings("try") // resources held open for the block, not used in it
    void interruptedWaiterFailsAndLeaksNothing() throws Exception {
        pool(PoolConfig.builder().maxPerEndpoint(1).maxTotal(1));
        Lease<StubConnection> held = pool.lease(A);
        AtomicReference<Thread> waiterThread = new AtomicReference<>();
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        threads.submit(() -> {
            waiterThread.set(Thread.currentThread());
            try (Lease<StubConnection> l = pool.lease(A, Duration.ofSeconds(30))) {
                outcome.complete(null);
            } catch (Throwable t) {
                outcome.complete(t);
                if (!Thread.currentThread().isInterrupted()) {
                    outcome.obtrudeValue(new AssertionError("interrupt status lost"));
                }
            }
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats().pending() == 1);
        waiterThread.get().interrupt();
        assertThat(outcome.get(5, TimeUnit.SECONDS)).isInstanceOf(PoolException.class)
                .hasCauseInstanceOf(InterruptedIOException.class);
        assertThat(pool.stats().pending()).isZero();
        held.close();
        assertThat(pool.stats().idle()).isEqualTo(1);
        try (Lease<StubConnection> l = pool.lease(A, Duration.ofMillis(100))) {
            assertThat(l.isReused()).isTrue();
        }
    }

    @Test
    void closingThePoolFailsWaitersRejectsLeasesAndClosesReturnedConnections() throws Exception {
        pool(PoolConfig.builder().maxPerEndpoint(2).maxTotal(2));
        Lease<StubConnection> held = pool.lease(A);
        try (Lease<StubConnection> idle = pool.lease(A)) {
            idle.connection();
        }
        Lease<StubConnection> stillHeld = pool.lease(A);
        Future<?> waiter = threads.submit(() -> pool.lease(A, Duration.ofSeconds(30)));
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats().pending() == 1);
        pool.close();
        assertThatThrownBy(() -> waiter.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(PoolClosedException.class)
                .hasMessageContaining("is closed");
        assertThatThrownBy(() -> pool.lease(A)).isInstanceOf(PoolClosedException.class);
        assertThat(stillHeld.connection().disposed).isFalse();
        StubConnection c = stillHeld.connection();
        stillHeld.close();
        assertThat(c.disposed).isTrue();
        held.close();
        assertThat(connector.disposedCount()).isEqualTo(connector.opened.size());
        assertThat(events.count("closed LOCAL POOL_CLOSED")).isEqualTo(2);
    }

    @Test
    void leaseHeldPastTheThresholdLogsAWarningWithWhereItWasTaken() throws IOException {
        List<LogRecord> records = new java.util.concurrent.CopyOnWriteArrayList<>();
        Logger jul = Logger.getLogger("io.github.portkeeper.core.Pool");
        Handler handler = new Handler() {
            @Override
            public void publish(LogRecord record) {
                records.add(record);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        jul.addHandler(handler);
        try {
            pool(PoolConfig.builder().leakDetectionThreshold(Duration.ofSeconds(5)));
            Lease<StubConnection> lease = takeLeaseHere();
            ticker.advance(Duration.ofSeconds(4));
            pool.engine().maintain();
            assertThat(records).isEmpty();
            ticker.advance(Duration.ofSeconds(1));
            pool.engine().maintain();
            pool.engine().maintain();
            assertThat(records).hasSize(1);
            LogRecord r = records.get(0);
            assertThat(r.getLevel()).isEqualTo(java.util.logging.Level.WARNING);
            assertThat(r.getMessage()).contains("Possible connection leak").contains("a.example:80");
            assertThat(r.getThrown().getStackTrace()[0].getMethodName()).isEqualTo("takeLeaseHere")
                    .as("trace points at the line that leased");
            assertThat(events.leakTraces).hasSize(1);
            lease.close();
        } finally {
            jul.removeHandler(handler);
        }
    }

    private Lease<StubConnection> takeLeaseHere() throws IOException {
        return pool.lease(A);
    }

    @Test
    void listenerSeesEveryEventInOrder() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(1).maxTotal(1));
        try (Lease<StubConnection> l = pool.lease(A)) {
            l.connection();
        }
        try (Lease<StubConnection> l = pool.lease(A)) {
            l.markBroken();
        }
        assertThatThrownBy(() -> {
            Lease<StubConnection> held = pool.lease(A);
            try {
                pool.lease(A, Duration.ofMillis(10));
            } finally {
                held.close();
            }
        }).isInstanceOf(LeaseTimeoutException.class);
        assertThat(events.events).containsExactly(
                "opened a.example:80", "leased-new a.example:80", "released a.example:80",
                "leased-reused a.example:80", "released-unusable a.example:80", "closed LOCAL BROKEN a.example:80",
                "opened a.example:80", "leased-new a.example:80", "timeout a.example:80", "released a.example:80");
    }

    @Test
    void aThrowingListenerDoesNotBreakThePool() throws IOException {
        pool = Pool.of(connector, PoolConfig.builder().listener(new PoolListener() {
            @Override
            public void leased(Endpoint endpoint, boolean reused, long waitNanos) {
                throw new IllegalStateException("listener bug");
            }
        }).build());
        try (Lease<StubConnection> l = pool.lease(A)) {
            assertThat(l.connection()).isNotNull();
        }
    }

    @Test
    void statsCountActiveIdleAndPendingPerEndpoint() throws Exception {
        pool(PoolConfig.builder().maxPerEndpoint(2).maxTotal(4));
        Lease<StubConnection> a1 = pool.lease(A);
        try (Lease<StubConnection> a2 = pool.lease(A)) {
            a2.connection();
        }
        Lease<StubConnection> b1 = pool.lease(B);
        Lease<StubConnection> a3 = pool.lease(A);
        Future<Lease<StubConnection>> waiter = threads.submit(() -> pool.lease(A, Duration.ofSeconds(30)));
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats().pending() == 1);
        PoolStats stats = pool.stats();
        assertThat(stats.endpoint(A)).isEqualTo(new PoolStats.EndpointStats(2, 0, 0, 1));
        assertThat(stats.endpoint(B)).isEqualTo(new PoolStats.EndpointStats(1, 0, 0, 0));
        assertThat(stats.active()).isEqualTo(3);
        a1.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats().pending() == 0);
        waiter.get(5, TimeUnit.SECONDS).close();
        a3.close();
        b1.close();
        assertThat(pool.stats().endpoint(B)).isEqualTo(new PoolStats.EndpointStats(0, 1, 0, 0));
    }

    @Test
    void secondCloseOfALeaseIsIgnored() throws IOException {
        pool(PoolConfig.builder());
        Lease<StubConnection> l = pool.lease(A);
        l.close();
        l.close();
        assertThat(pool.stats().idle()).isEqualTo(1);
        assertThat(events.count("released")).isEqualTo(1);
        assertThatThrownBy(l::connection).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void aLeaseTimeoutTooLongForTheNanosecondClockWaitsUntilServed() throws Exception {
        Duration practicallyForever = Duration.ofSeconds(Long.MAX_VALUE);
        pool(PoolConfig.builder().maxPerEndpoint(1).maxTotal(1).leaseTimeout(practicallyForever));
        Lease<StubConnection> held = pool.lease(A);
        StubConnection connection = held.connection();
        Future<StubConnection> waiter = threads.submit(() -> {
            try (Lease<StubConnection> l = pool.lease(A, practicallyForever)) {
                return l.connection();
            }
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats(A).pending() == 1);
        held.close();
        assertThat(waiter.get(5, TimeUnit.SECONDS)).isSameAs(connection);
        try (Lease<StubConnection> fresh = pool.leaseNew(A, practicallyForever)) {
            assertThat(fresh.isReused()).isFalse();
        }
    }

    @Test
    void anIdleTimeoutHintTooLongForTheNanosecondClockLimitsNothing() throws IOException {
        pool(PoolConfig.builder().maxIdleTime(Duration.ofSeconds(30)));
        pool.hintIdleTimeout(A, Duration.ofSeconds(20));
        pool.hintIdleTimeout(A, Duration.ofSeconds(Long.MAX_VALUE));
        assertThat(pool.serverIdleTimeout(A)).isEmpty();
        try (Lease<StubConnection> l = pool.lease(A)) {
            l.connection();
        }
        ticker.advance(Duration.ofSeconds(29));
        pool.engine().maintain();
        assertThat(pool.stats().idle()).as("only maxIdleTime limits the idle connection").isEqualTo(1);
    }

    @Test
    void housekeepingKeepsItsDeadlinesWithALeakThresholdAsLongAsTheNanosecondClockHolds() throws IOException {
        // The system ticker: its readings are far from zero, as in production.
        pool = Pool.of(connector, PoolConfig.builder().listener(events).maxIdleTime(Duration.ofMillis(200))
                .leakDetectionThreshold(Duration.ofNanos(Long.MAX_VALUE)).build());
        try (Lease<StubConnection> held = pool.lease(A)) {
            pool.lease(A).close();
            assertThat(pool.stats(A).idle()).isEqualTo(1);
            await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats(A).idle() == 0);
            assertThat(held.connection().disposed).isFalse();
        }
        // Housekeeping's events reach listeners on the watcher's worker thread.
        await().atMost(Duration.ofSeconds(5)).until(() -> events.count("closed LOCAL IDLE_TIMEOUT") == 1);
    }

    @Test
    void aNegativeLeaseTimeoutIsRejectedNamingTheValueWhileZeroMeansDoNotWait() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(1).maxTotal(1));
        assertThatThrownBy(() -> pool.lease(A, Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("lease timeout must not be negative, but was PT-0.001S");
        assertThatThrownBy(() -> pool.leaseNew(A, Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("lease timeout must not be negative, but was PT-1S");
        assertThat(pool.stats().active()).as("nothing was leased").isZero();
        try (Lease<StubConnection> served = pool.lease(A, Duration.ZERO)) {
            assertThat(served.isReused()).isFalse();
            assertThatThrownBy(() -> pool.lease(A, Duration.ZERO)).isInstanceOf(LeaseTimeoutException.class);
        }
        try (Lease<StubConnection> reused = pool.lease(A, Duration.ZERO)) {
            assertThat(reused.isReused()).isTrue();
        }
        assertThat(pool.stats().pending()).isZero();
    }

    @Test
    void aNullEndpointIsRefusedNamingItByEveryMethodThatTakesOne() {
        pool(PoolConfig.builder());
        assertThatThrownBy(() -> pool.serverIdleTimeout(null)).isInstanceOf(NullPointerException.class).hasMessage("endpoint");
        assertThatThrownBy(() -> pool.stats(null)).isInstanceOf(NullPointerException.class).hasMessage("endpoint");
        assertThatThrownBy(() -> pool.maxPerEndpoint(null)).isInstanceOf(NullPointerException.class).hasMessage("endpoint");
        assertThatThrownBy(() -> pool.hintIdleTimeout(null, Duration.ofSeconds(1)))
                .isInstanceOf(NullPointerException.class).hasMessage("endpoint");
        assertThatThrownBy(() -> pool.lease(null)).isInstanceOf(NullPointerException.class).hasMessage("endpoint");
    }
}
