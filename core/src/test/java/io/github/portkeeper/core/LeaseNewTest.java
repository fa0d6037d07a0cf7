package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubPoolTestBase;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** {@link Pool#leaseNew}: a connection opened for the lease, never a pooled one. */
class LeaseNewTest extends StubPoolTestBase {

    private static final Endpoint A = Endpoint.of("a.example", 80);
    private static final Endpoint B = Endpoint.of("b.example", 80);

    @Test
    void leaseNewOpensAConnectionEvenWhenAnIdleOneIsThere() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(4));
        StubConnection idle;
        try (Lease<StubConnection> lease = pool.lease(A)) {
            idle = lease.connection();
        }
        try (Lease<StubConnection> fresh = pool.leaseNew(A, Duration.ofSeconds(1))) {
            assertThat(fresh.isReused()).isFalse();
            assertThat(fresh.connection()).isNotSameAs(idle);
        }
        assertThat(connector.opened).hasSize(2);
        assertThat(pool.stats(A).idle()).isEqualTo(2);
    }

    @Test
    void atTheEndpointLimitLeaseNewRetiresAnIdleConnectionToMakeRoom() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(1).retirement(Retirement.reset()));
        StubConnection idle;
        try (Lease<StubConnection> lease = pool.lease(A)) {
            idle = lease.connection();
        }
        try (Lease<StubConnection> fresh = pool.leaseNew(A, Duration.ofSeconds(1))) {
            assertThat(fresh.isReused()).isFalse();
            assertThat(fresh.connection()).isNotSameAs(idle);
            assertThat(idle.disposed).isTrue();
            assertThat(events.events).filteredOn(e -> e.startsWith("closed") && e.contains("EVICTED")).hasSize(1);
        }
    }

    @Test
    void leaseNewWaitsForRoomAndIsNotHandedAPooledConnection() throws Exception {
        pool(PoolConfig.builder().maxPerEndpoint(1).retirement(Retirement.reset()));
        Lease<StubConnection> held = pool.lease(A);
        StubConnection first = held.connection();
        CompletableFuture<Lease<StubConnection>> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return pool.leaseNew(A, Duration.ofSeconds(10));
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        }, threads);
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats(A).pending() == 1);
        held.close();
        try (Lease<StubConnection> fresh = waiting.get(10, TimeUnit.SECONDS)) {
            assertThat(fresh.isReused()).isFalse();
            assertThat(fresh.connection()).isNotSameAs(first);
            assertThat(first.disposed).isTrue();
        }
    }

    @Test
    void leaseNewUnderTheTotalLimitEvictsAnotherEndpointsIdleConnection() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(1).maxTotal(1).retirement(Retirement.reset()));
        try (Lease<StubConnection> lease = pool.lease(B)) {
            lease.connection();
        }
        try (Lease<StubConnection> fresh = pool.leaseNew(A, Duration.ofSeconds(1))) {
            assertThat(fresh.connection().endpoint).isEqualTo(A);
        }
        assertThat(pool.stats(B).idle()).isZero();
    }

    @Test
    void leaseNewTimesOutWhenEverythingIsLeased() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(1));
        try (Lease<StubConnection> held = pool.lease(A)) {
            assertThatThrownBy(() -> pool.leaseNew(A, Duration.ofMillis(50))).isInstanceOf(LeaseTimeoutException.class);
            assertThat(held.connection()).isNotNull();
        }
    }
}
