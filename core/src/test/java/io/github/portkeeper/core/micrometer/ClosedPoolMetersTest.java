package io.github.portkeeper.core.micrometer;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

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
}
