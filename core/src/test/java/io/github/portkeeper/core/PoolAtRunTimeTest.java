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

/** Limits changed while the pool runs, idle connections retired on demand, and {@link Lease#moveTo}. */
class PoolAtRunTimeTest extends StubPoolTestBase {

    private static final Endpoint A = Endpoint.of("a.example", 80);
    private static final Endpoint A_ALICE = Endpoint.of("a.example", 80, "alice");

    @Test
    void raisingTheEndpointLimitLetsAWaitingLeaseOpenAConnectionAtOnce() throws Exception {
        pool(PoolConfig.builder().maxPerEndpoint(1));
        try (Lease<StubConnection> held = pool.lease(A)) {
            CompletableFuture<Lease<StubConnection>> waiting = waitingLease(A);
            pool.setMaxPerEndpoint(A, 2);
            try (Lease<StubConnection> second = waiting.get(5, TimeUnit.SECONDS)) {
                assertThat(second.connection()).isNotSameAs(held.connection());
            }
        }
        assertThat(pool.maxPerEndpoint(A)).isEqualTo(2);
        assertThat(pool.maxPerEndpoint()).isEqualTo(1);
    }

    @Test
    void clearingAnEndpointsOwnLimitLetsAWaitingLeaseOpenAConnectionUnderTheDefault() throws Exception {
        pool(PoolConfig.builder().maxPerEndpoint(2));
        pool.setMaxPerEndpoint(A, 1);
        try (Lease<StubConnection> held = pool.lease(A)) {
            CompletableFuture<Lease<StubConnection>> waiting = waitingLease(A);
            pool.clearMaxPerEndpoint(A);
            try (Lease<StubConnection> second = waiting.get(5, TimeUnit.SECONDS)) {
                assertThat(second.connection()).isNotSameAs(held.connection());
            }
        }
        assertThat(pool.maxPerEndpoint(A)).isEqualTo(2);
        pool.setMaxPerEndpoint(3);
        assertThat(pool.maxPerEndpoint(A)).as("follows the default").isEqualTo(3);
        pool.clearMaxPerEndpoint(Endpoint.of("never.example", 80)); // no limit of its own: nothing happens
        assertThat(pool.maxPerEndpoint(Endpoint.of("never.example", 80))).isEqualTo(3);
        assertThatThrownBy(() -> pool.clearMaxPerEndpoint(null)).isInstanceOf(NullPointerException.class).hasMessage("endpoint");
    }

    /** A lease of {@code endpoint} on another thread, once it waits for a connection. */
    private CompletableFuture<Lease<StubConnection>> waitingLease(Endpoint endpoint) {
        CompletableFuture<Lease<StubConnection>> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return pool.lease(endpoint, Duration.ofSeconds(10));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, threads);
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.stats(endpoint).pending() == 1);
        return waiting;
    }

    @Test
    void aLowerTotalLimitStopsNewConnectionsButClosesNone() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(2).maxTotal(2));
        Lease<StubConnection> first = pool.lease(A);
        pool.setMaxTotal(1);
        assertThat(pool.maxTotal()).isEqualTo(1);
        assertThatThrownBy(() -> pool.lease(A, Duration.ofMillis(50))).isInstanceOf(LeaseTimeoutException.class);
        first.close();
        assertThat(pool.stats(A).idle()).isEqualTo(1);
        assertThatThrownBy(() -> pool.setMaxTotal(0)).hasMessage("maxTotal must be at least 1, but was 0");
    }

    @Test
    void retireIdleRetiresOnlyWhatThePredicateSelects() throws IOException {
        pool(PoolConfig.builder().maxPerEndpoint(2));
        Lease<StubConnection> one = pool.lease(A);
        Lease<StubConnection> two = pool.lease(A);
        StubConnection kept = two.connection();
        one.close();
        two.close();

        int retired = pool.retireIdle((c, idleFor) -> c != kept);

        assertThat(retired).isEqualTo(1);
        assertThat(pool.stats(A).idle()).isEqualTo(1);
        try (Lease<StubConnection> lease = pool.lease(A)) {
            assertThat(lease.connection()).isSameAs(kept);
        }
    }

    @Test
    void aConnectionMovedToAnotherEndpointServesOnlyThatEndpoint() throws IOException {
        pool(PoolConfig.builder());
        StubConnection moved;
        try (Lease<StubConnection> lease = pool.lease(A)) {
            moved = lease.connection();
            lease.moveTo(A_ALICE);
        }
        try (Lease<StubConnection> anyone = pool.lease(A)) {
            assertThat(anyone.connection()).isNotSameAs(moved);
        }
        try (Lease<StubConnection> alice = pool.lease(A_ALICE)) {
            assertThat(alice.isReused()).isTrue();
            assertThat(alice.connection()).isSameAs(moved);
        }
        assertThat(connector.opened).hasSize(2);
        assertThatThrownBy(() -> {
            try (Lease<StubConnection> lease = pool.lease(A)) {
                lease.moveTo(Endpoint.of("b.example", 80));
            }
        }).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void moveToRefusesNullAndAnotherHostOrPortNamingTheSettingAndTheValue() throws IOException {
        pool(PoolConfig.builder());
        try (Lease<StubConnection> lease = pool.lease(A)) {
            assertThatThrownBy(() -> lease.moveTo(null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("moveTo endpoint must not be null");
            assertThatThrownBy(() -> lease.moveTo(Endpoint.of("a.example", 8080, "alice")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("moveTo endpoint must have the host and port of a.example:80, but was a.example:8080");
        }
        try (Lease<StubConnection> lease = pool.lease(A)) {
            assertThat(lease.isReused()).as("a refused move leaves the connection where it was").isTrue();
        }
    }

    @Test
    void aConnectionMovedToAnEndpointAtItsLimitRetiresInstead() throws IOException {
        pool(PoolConfig.builder());
        pool.setMaxPerEndpoint(A_ALICE, 1);
        Lease<StubConnection> alices = pool.lease(A_ALICE);
        try (Lease<StubConnection> lease = pool.lease(A)) {
            lease.moveTo(A_ALICE);
        }
        assertThat(pool.stats(A).idle()).isZero();
        assertThat(pool.stats(A_ALICE).active()).isEqualTo(1);
        alices.close();
    }

    @Test
    void atRunTimeAnEndpointLimitAboveTheTotalIsAcceptedAndTheTotalStillCaps() throws IOException {
        // HttpClient's ConnPoolControl sets the two limits one at a time, in either order.
        pool(PoolConfig.builder().maxPerEndpoint(2).maxTotal(2));
        pool.setMaxPerEndpoint(5);
        pool.setMaxPerEndpoint(A, 6);
        assertThat(pool.maxPerEndpoint()).isEqualTo(5);
        assertThat(pool.maxPerEndpoint(A)).isEqualTo(6);
        Lease<StubConnection> one = pool.lease(A);
        Lease<StubConnection> two = pool.lease(A);
        assertThatThrownBy(() -> pool.lease(A, Duration.ZERO)).isInstanceOf(LeaseTimeoutException.class)
                .hasMessageContaining("maxTotal 2");
        pool.setMaxTotal(3);
        try (Lease<StubConnection> three = pool.lease(A, Duration.ZERO)) {
            assertThat(three.isReused()).isFalse();
        }
        one.close();
        two.close();
    }

    @Test
    void anEndpointLimitBelowOneIsRefusedNamingTheEndpoint() {
        pool(PoolConfig.builder());
        assertThatThrownBy(() -> pool.setMaxPerEndpoint(A, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxPerEndpoint for a.example:80 must be at least 1, but was 0");
        assertThatThrownBy(() -> pool.setMaxPerEndpoint(Endpoint.of("::1", 7000), -2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxPerEndpoint for [::1]:7000 must be at least 1, but was -2");
        assertThat(pool.maxPerEndpoint(A)).as("unchanged").isEqualTo(pool.maxPerEndpoint());
    }
}
