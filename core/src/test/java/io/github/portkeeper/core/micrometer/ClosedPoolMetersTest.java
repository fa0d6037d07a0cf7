package io.github.portkeeper.core.micrometer;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PoolListener;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A closed pool takes its meters out of the registry. Micrometer hands back the meter already
 * registered under an ID, so a pool built again under the same name (a refreshed bean, a rebuilt
 * client, a test fixture) would otherwise report through the closed pool's gauges.
 */
class ClosedPoolMetersTest {

    private static final Endpoint A = Endpoint.of("a.example", 80);

    private final MeterRegistry registry = new SimpleMeterRegistry();

    private static PoolConfig config(String name) {
        return PoolConfig.builder().name(name).portBudget(PortBudget.disabled()).build();
    }

    @Test
    void aPoolBuiltAgainUnderTheSameNameReportsItsOwnConnectionsNotTheClosedPools() throws Exception {
        for (boolean endpointTag : new boolean[] {true, false}) {
            MeterRegistry registry = new SimpleMeterRegistry();
            Pool<StubConnection> first = Pool.of(new StubConnector(), config("rebuilt"));
            PoolMetrics.builder(first).endpointTag(endpointTag).build().bindTo(registry);
            first.lease(A).close();
            first.close();

            try (Pool<StubConnection> second = Pool.of(new StubConnector(), config("rebuilt"))) {
                PoolMetrics.builder(second).endpointTag(endpointTag).build().bindTo(registry);
                try (Lease<StubConnection> held = second.lease(A)) {
                    double active = registry.find("portkeeper.connections").tags("pool", "rebuilt", "state", "active")
                            .gauges().stream().mapToDouble(Gauge::value).sum();
                    assertThat(active).as("active connections of the pool built again (endpoint tag %s)", endpointTag)
                            .isEqualTo(1.0);
                }
            }
            assertThat(first.isClosed()).isTrue();
        }
    }

    @Test
    void aClosedPoolsMetersStayReadableUntilAPoolOfTheSameNameIsBound() throws Exception {
        Pool<StubConnection> pool = Pool.of(new StubConnector(), config("closing"));
        new PoolMetrics(pool).bindTo(registry);
        Lease<StubConnection> leased = pool.lease(A);
        pool.lease(Endpoint.of("b.example", 81)).close();

        pool.close();
        leased.close(); // closed when given back, after the pool's close

        assertThat(registry.find("portkeeper.connections.opened").tag("pool", "closing").counters())
                .as("the closed pool's counters, for a last scrape").hasSize(2)
                .allSatisfy(c -> assertThat(c.count()).isEqualTo(1.0));
        assertThat(registry.find("portkeeper.connections.closed").tag("pool", "closing").counters().stream()
                .mapToDouble(c -> c.count()).sum()).as("closes counted, the one after the pool's close too").isEqualTo(2.0);

        try (Pool<StubConnection> again = Pool.of(new StubConnector(), config("closing"))) {
            new PoolMetrics(again).bindTo(registry);
            again.lease(A).close();

            assertThat(registry.find("portkeeper.connections.opened").tag("pool", "closing").counters())
                    .as("only the new pool's counters").singleElement()
                    .satisfies(c -> assertThat(c.getId().getTag("endpoint")).isEqualTo("a.example:80"))
                    .satisfies(c -> assertThat(c.count()).isEqualTo(1.0));
        }
    }

    private double count(String meter, String... tags) {
        return registry.find(meter).tags(tags).counters().stream().mapToDouble(c -> c.count()).sum();
    }

    private double active(String pool) {
        return registry.find("portkeeper.connections").tags("pool", pool, "state", "active")
                .gauges().stream().mapToDouble(Gauge::value).sum();
    }

    @Test
    void aLivePoolKeepsItsMetersWhenAnotherPoolOfItsNameClosesAndAThirdIsBound() throws Exception {
        PoolConfig unnamed = PoolConfig.builder().portBudget(PortBudget.disabled()).build(); // name "default"
        String name = unnamed.name();
        Pool<StubConnection> first = Pool.of(new StubConnector(), unnamed);
        try (Pool<StubConnection> second = Pool.of(new StubConnector(), unnamed)) {
            new PoolMetrics(first).bindTo(registry);
            new PoolMetrics(second).bindTo(registry);
            first.lease(A).close();
            second.lease(A).close(); // the registry hands the second pool the first one's meters (same IDs)
            first.close();

            try (Pool<StubConnection> third = Pool.of(new StubConnector(), unnamed)) {
                new PoolMetrics(third).bindTo(registry);
                second.lease(A).close(); // reused: counts in the meters the second pool reports through

                assertThat(count("portkeeper.leases", "pool", name, "outcome", "reused"))
                        .as("the live second pool's reused leases, still in the registry").isEqualTo(1.0);
                assertThat(count("portkeeper.leases", "pool", name, "outcome", "new"))
                        .as("new leases of both pools that shared the meters").isEqualTo(2.0);
            }
        }
    }

    @Test
    void aPoolBoundWhileAPoolOfItsNameIsStillClosingReportsItsOwnConnections() throws Exception {
        CountDownLatch closing = new CountDownLatch(1);
        CountDownLatch goOn = new CountDownLatch(1);
        Pool<StubConnection> old = Pool.of(new StubConnector(), config("rebound"));
        new PoolMetrics(old).bindTo(registry);
        old.lease(A).close();
        old.addListener(new PoolListener() {
            @Override
            public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
                closing.countDown();
                try {
                    goOn.await(30, TimeUnit.SECONDS); // holds the old pool's close before its end
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        CompletableFuture<Void> closed = CompletableFuture.runAsync(old::close);
        try {
            assertThat(closing.await(30, TimeUnit.SECONDS)).as("the old pool's close closes its idle connection").isTrue();

            try (Pool<StubConnection> again = Pool.of(new StubConnector(), config("rebound"))) {
                new PoolMetrics(again).bindTo(registry);
                try (Lease<StubConnection> held = again.lease(A)) {
                    assertThat(active("rebound")).as("the new pool's active connections, during the old pool's close").isEqualTo(1.0);
                    goOn.countDown();
                    closed.get(30, TimeUnit.SECONDS);
                    assertThat(active("rebound")).as("the new pool's active connections, after the old pool's close").isEqualTo(1.0);
                }
                assertThat(count("portkeeper.leases", "pool", "rebound", "outcome", "new"))
                        .as("the new pool's lease, in meters of its own").isEqualTo(1.0);
            }
        } finally {
            goOn.countDown();
            closed.get(30, TimeUnit.SECONDS);
        }
    }
}
