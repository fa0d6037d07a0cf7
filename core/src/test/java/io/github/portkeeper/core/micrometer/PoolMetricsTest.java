package io.github.portkeeper.core.micrometer;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.LeaseTimeoutException;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PoolMetricsTest {

    private static final Endpoint A = Endpoint.of("a.example", 80);
    private static final Endpoint B = Endpoint.of("b.example", 81);

    private final StubConnector connector = new StubConnector();
    private final MeterRegistry registry = new SimpleMeterRegistry();

    @Test
    void metersCarryTheContractNamesAndTags() throws Exception {
        try (Pool<StubConnection> pool = Pool.of(connector, PoolConfig.builder().name("orders")
                .maxPerEndpoint(1).maxTotal(2).retirement(Retirement.local()).build())) {
            new PoolMetrics(pool).bindTo(registry);
            for (int i = 0; i < 5; i++) {
                try (Lease<StubConnection> l = pool.lease(A)) {
                    l.connection();
                }
            }
            Lease<StubConnection> held = pool.lease(A);
            assertThat(gauge("portkeeper.connections", "state", "active", A)).isEqualTo(1.0);
            assertThatThrownBy(() -> pool.lease(A, Duration.ofMillis(5))).isInstanceOf(LeaseTimeoutException.class);
            held.retire();
            held.close();
            try (Lease<StubConnection> l = pool.lease(B)) {
                l.markBroken();
            }

            assertThat(count("portkeeper.connections.opened", A)).isEqualTo(1);
            assertThat(count("portkeeper.leases", A, "outcome", "new")).isEqualTo(1);
            assertThat(count("portkeeper.leases", A, "outcome", "reused")).isEqualTo(5);
            assertThat(count("portkeeper.leases", A, "outcome", "timeout")).isEqualTo(1);
            assertThat(count("portkeeper.connections.closed", A, "closed.by", "local")).isEqualTo(1);
            assertThat(count("portkeeper.timewait.caused", A)).isEqualTo(1);
            assertThat(count("portkeeper.connections.closed", B, "closed.by", "local")).isEqualTo(1);
            assertThat(registry.get("portkeeper.lease.wait").tag("endpoint", "a.example:80").timer().count()).isEqualTo(7);
            assertThat(gauge("portkeeper.connections", "state", "idle", A)).isZero();
            // 7 leases served, 2 TIME_WAIT caused (A's retired one, B's broken one under LOCAL).
            assertThat(registry.get("portkeeper.timewait.avoided").tag("pool", "orders").functionCounter().count()).isEqualTo(5);
        }
    }

    @Test
    void avoidedEqualsLeasesMinusTimeWaitOnceEveryConnectionHasEnded() throws Exception {
        Pool<StubConnection> pool = Pool.of(connector, PoolConfig.builder().maxPerEndpoint(2).maxTotal(2)
                .retirement(Retirement.reset()).build());
        PoolMetrics metrics = new PoolMetrics(pool);
        metrics.bindTo(registry);
        for (int i = 0; i < 100; i++) {
            try (Lease<StubConnection> l = pool.lease(A)) {
                l.connection();
            }
        }
        assertThat(metrics.timeWaitAvoided()).as("one connection still open is not counted yet").isEqualTo(99);
        pool.close();
        assertThat(metrics.leasesServed()).isEqualTo(100);
        // Stub connections have no socket, so the pool cannot prove a passive close: it counts LOCAL.
        assertThat(metrics.timeWaitCaused()).isEqualTo(1);
        assertThat(metrics.timeWaitAvoided()).isEqualTo(metrics.leasesServed() - metrics.timeWaitCaused());
    }

    @Test
    @SuppressWarnings("try") // resources held open for the block, not used in it
    void endpointsThatDifferOnlyByQualifierShareOneGaugeThatSumsThem() throws Exception {
        try (Pool<StubConnection> pool = Pool.of(connector, PoolConfig.defaults())) {
            new PoolMetrics(pool).bindTo(registry);
            try (Lease<StubConnection> plain = pool.lease(A);
                 Lease<StubConnection> tls1 = pool.lease(Endpoint.of("a.example", 80, "tls-1"));
                 Lease<StubConnection> tls2 = pool.lease(Endpoint.of("a.example", 80, "tls-2"))) {
                assertThat(gauge("portkeeper.connections", "state", "active", A)).isEqualTo(3.0);
            }
        }
    }

    @Test
    @SuppressWarnings("try") // resources held open for the block, not used in it
    void endpointTagCanBeTurnedOff() throws Exception {
        try (Pool<StubConnection> pool = Pool.of(connector, PoolConfig.defaults())) {
            PoolMetrics.builder(pool).endpointTag(false).build().bindTo(registry);
            try (Lease<StubConnection> a = pool.lease(A); Lease<StubConnection> b = pool.lease(B)) {
                assertThat(registry.get("portkeeper.connections").tag("state", "active").gauge().value()).isEqualTo(2.0);
            }
            assertThat(registry.get("portkeeper.connections.opened").counter().count()).isEqualTo(2);
            assertThat(registry.find("portkeeper.connections.opened").tagKeys("endpoint").counter()).isNull();
        }
    }

    @Test
    void kernelGaugesAreAbsentWhereTheProbeIsUnavailable() {
        try (Pool<StubConnection> pool = Pool.of(connector, PoolConfig.defaults())) {
            KernelProbe none = KernelProbe.reading(Path.of("no-such-dir/tcp"), Path.of("no-such-dir/tcp6"));
            PoolMetrics.builder(pool).kernelProbe(none).build().bindTo(registry);
            assertThat(registry.find("portkeeper.tcp.timewait").gauge()).isNull();
            assertThat(registry.find("portkeeper.timewait.avoided").functionCounter()).isNotNull();
        }
    }

    @Test
    void bindingTwiceIsRefused() {
        try (Pool<StubConnection> pool = Pool.of(connector, PoolConfig.defaults())) {
            PoolMetrics metrics = new PoolMetrics(pool);
            metrics.bindTo(registry);
            assertThatThrownBy(() -> metrics.bindTo(new SimpleMeterRegistry())).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already bound");
        }
    }

    @Test
    void theEngineRunsWithoutMicrometerOnTheClasspath() throws Exception {
        URL coreClasses = Pool.class.getProtectionDomain().getCodeSource().getLocation();
        try (URLClassLoader isolated = new URLClassLoader(new URL[] {coreClasses}, ClassLoader.getPlatformClassLoader())) {
            assertThatThrownBy(() -> isolated.loadClass("io.micrometer.core.instrument.MeterRegistry"))
                    .isInstanceOf(ClassNotFoundException.class);
            Class<?> poolClass = isolated.loadClass("io.github.portkeeper.core.Pool");
            Class<?> connectorClass = isolated.loadClass("io.github.portkeeper.core.Connector");
            Class<?> configClass = isolated.loadClass("io.github.portkeeper.core.PoolConfig");
            Class<?> endpointClass = isolated.loadClass("io.github.portkeeper.core.Endpoint");
            Object stubConnector = Proxy.newProxyInstance(isolated, new Class<?>[] {connectorClass}, (proxy, method, args) -> {
                switch (method.getName()) {
                    case "connect": return new Object();
                    case "validate": return true;
                    case "hashCode": return 1;
                    case "equals": return proxy == args[0];
                    case "toString": return "stub";
                    default: return method.isDefault() ? java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, args) : null;
                }
            });
            Object config = configClass.getMethod("defaults").invoke(null);
            Object pool = poolClass.getMethod("of", connectorClass, configClass).invoke(null, stubConnector, config);
            Object endpoint = endpointClass.getMethod("of", String.class, int.class).invoke(null, "a", 1);
            Object lease = poolClass.getMethod("lease", endpointClass).invoke(pool, endpoint);
            Method close = AutoCloseable.class.getMethod("close");
            close.invoke(lease);
            Object lease2 = poolClass.getMethod("lease", endpointClass).invoke(pool, endpoint);
            assertThat(lease2.getClass().getMethod("isReused").invoke(lease2)).isEqualTo(true);
            close.invoke(lease2);
            close.invoke(pool);
        }
    }

    private double count(String name, Endpoint e) {
        return registry.get(name).tag("endpoint", e.toString()).counter().count();
    }

    private double count(String name, Endpoint e, String tag, String value) {
        return registry.get(name).tag("endpoint", e.toString()).tag(tag, value).counter().count();
    }

    private double gauge(String name, String tag, String value, Endpoint e) {
        return registry.get(name).tag("endpoint", e.toString()).tag(tag, value).gauge().value();
    }
}
