package io.github.portkeeper.http;

import io.github.portkeeper.core.CircuitOpenException;
import io.github.portkeeper.core.ConnectGuard;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PoolException;
import io.github.portkeeper.core.PoolListener;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.core.resilience.Resilience4jConnectGuard;
import io.github.portkeeper.http.testing.ClientHelloServer;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.test.Kernel;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.SystemDefaultDnsResolver;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * HttpClient connects (and handshakes TLS) after the pool has handed out the lease: the connect
 * guard, the listeners and the meters hear the outcome of that real connect, not of the pool's
 * preparation of an unconnected connection.
 */
class ConnectOutcomeTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    /** Counts the connects HttpClient's operator starts: each one resolves the host first. */
    private static final class CountingDns implements DnsResolver {
        final AtomicInteger resolves = new AtomicInteger();

        @Override
        public InetAddress[] resolve(String host) throws UnknownHostException {
            resolves.incrementAndGet();
            return SystemDefaultDnsResolver.INSTANCE.resolve(host);
        }

        @Override
        public String resolveCanonicalHostname(String host) throws UnknownHostException {
            return SystemDefaultDnsResolver.INSTANCE.resolveCanonicalHostname(host);
        }
    }

    /** What the pool told its listeners, as seen by a test. */
    private static final class Heard implements PoolListener {
        final AtomicInteger opened = new AtomicInteger();
        final List<Throwable> connectFailed = new CopyOnWriteArrayList<>();
        final List<Throwable> rejected = new CopyOnWriteArrayList<>();
        final AtomicInteger closed = new AtomicInteger();

        @Override
        public void connectionOpened(Endpoint endpoint, long connectNanos) {
            opened.incrementAndGet();
        }

        @Override
        public void connectFailed(Endpoint endpoint, Throwable cause) {
            connectFailed.add(cause);
        }

        @Override
        public void leaseRejected(Endpoint endpoint, Throwable reason) {
            rejected.add(reason);
        }

        @Override
        public void connectionClosed(Endpoint endpoint, io.github.portkeeper.core.Ending ending,
                                     io.github.portkeeper.core.CloseReason reason) {
            closed.incrementAndGet();
        }
    }

    private PortkeeperConnectionManager manager(PortkeeperConnectionManagerBuilder builder) {
        return leaks.track(leaks.closeAfter(builder.build()));
    }

    private CloseableHttpClient client(PortkeeperConnectionManager manager) {
        return leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries().build());
    }

    private static MeterRegistry metered(PortkeeperConnectionManager manager) {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new PoolMetrics(manager.pool()).bindTo(registry);
        return registry;
    }

    /** A counter summed over the pool's endpoints, {@code tags} as name, value pairs. */
    private static double count(MeterRegistry registry, String name, String... tags) {
        return registry.find(name).tags(tags).counters().stream().mapToDouble(c -> c.count()).sum();
    }

    /** {@code t} and its causes (HttpClient wraps a failed lease request). */
    private static List<Throwable> causes(Throwable t) {
        List<Throwable> chain = new java.util.ArrayList<>();
        for (Throwable c = t; c != null && !chain.contains(c); c = c.getCause()) {
            chain.add(c);
        }
        return chain;
    }

    private static Throwable get(CloseableHttpClient client, String url) {
        return catchThrowable(() -> client.execute(new HttpGet(url), r -> EntityUtils.toString(r.getEntity())));
    }

    @Test
    void refusedConnectsOpenTheCircuitBreakerAndTheNextRequestFailsWithoutAConnectAttempt() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort(); // nothing listens there once closed: ECONNREFUSED
        }
        Resilience4jConnectGuard breaker = Resilience4jConnectGuard.builder().circuitBreaker(CircuitBreakerConfig.custom()
                .slidingWindowSize(3).minimumNumberOfCalls(3).failureRateThreshold(50).build()).build();
        CountingDns dns = new CountingDns();
        Heard heard = new Heard();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder().setDnsResolver(dns)
                .setPoolConfig(PoolConfig.builder().name("refused-breaker").connectGuard(breaker).listener(heard).build()));
        MeterRegistry registry = metered(manager);
        CloseableHttpClient client = client(manager);
        String url = "http://127.0.0.1:" + closedPort + "/";

        for (int i = 0; i < 3; i++) {
            assertThat(get(client, url)).as("request %d to a closed port", i).isInstanceOf(java.net.ConnectException.class);
        }
        Throwable fourth = get(client, url);

        assertThat(causes(fourth)).as("the request after three refused connects failed with")
                .anyMatch(CircuitOpenException.class::isInstance);
        assertThat(dns.resolves.get()).as("connect attempts").isEqualTo(3);
        assertThat(heard.connectFailed).as("failed connects heard").hasSize(3);
        assertThat(heard.opened.get()).as("connections opened").isZero();
        assertThat(heard.closed.get()).as("connections closed (a failed connect opened none)").isZero();
        assertThat(heard.rejected).as("leases rejected").hasSize(4);
        assertThat(count(registry, "portkeeper.connections.opened")).as("connections.opened").isZero();
        assertThat(count(registry, "portkeeper.leases", "outcome", "rejected")).as("leases{rejected}").isEqualTo(4);
        assertThat(count(registry, "portkeeper.leases", "outcome", "new")).as("leases{new}").isZero();
        assertThat(count(registry, "portkeeper.connections.closed", "closed.by", "failed")).as("closed{failed}").isEqualTo(3);
    }

    @Test
    void aFailedTlsHandshakeIsAFailedConnectNotAnOpenedConnection() throws Exception {
        ClientHelloServer server = leaks.closeAfter(ClientHelloServer.start()); // reads the ClientHello, closes
        leaks.track(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.port()));
        Heard heard = new Heard();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("handshake-fails").listener(heard).build()));
        MeterRegistry registry = metered(manager);
        CloseableHttpClient client = client(manager);

        assertThat(get(client, "https://127.0.0.1:" + server.port() + "/")).isInstanceOf(IOException.class);

        assertThat(heard.connectFailed).as("failed connects heard").hasSize(1);
        assertThat(heard.opened.get()).as("connections opened").isZero();
        assertThat(heard.rejected).as("leases rejected").hasSize(1);
        assertThat(heard.closed.get()).as("connections closed (a failed connect opened none)").isZero();
        assertThat(count(registry, "portkeeper.connections.opened")).as("connections.opened").isZero();
        assertThat(count(registry, "portkeeper.connections.closed", "closed.by", "failed")).as("closed{failed}").isEqualTo(1);
        assertThat(count(registry, "portkeeper.connections.closed")).as("connections.closed, all endings").isEqualTo(1);
        assertThat(count(registry, "portkeeper.leases", "outcome", "rejected")).as("leases{rejected}").isEqualTo(1);
        assertThat(count(registry, "portkeeper.leases", "outcome", "new")).as("leases{new}").isZero();
        io.github.portkeeper.core.PoolStats stats = manager.pool().stats();
        assertThat(stats.active() + stats.idle() + stats.draining()).as("connections left in the pool: %s", stats).isZero();
    }

    @Test
    void aGuardHearsASuccessfulConnectOnlyOnceTheConnectionIsUp() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().start());
        InetSocketAddress address = leaks.track(server.address());
        List<Integer> establishedWhenHeard = new CopyOnWriteArrayList<>();
        List<Long> nanosHeard = new CopyOnWriteArrayList<>();
        ConnectGuard guard = new ConnectGuard() {
            @Override
            public void beforeConnect(Endpoint endpoint) throws PoolException {
            }

            @Override
            public void connectSucceeded(Endpoint endpoint, long nanos) {
                establishedWhenHeard.add(Kernel.clientEstablished(address));
                nanosHeard.add(nanos);
            }
        };
        Heard heard = new Heard();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("guard-success").connectGuard(guard).listener(heard).build()));
        MeterRegistry registry = metered(manager);
        CloseableHttpClient client = client(manager);

        assertThat(get(client, server.url("/"))).as("what the GET threw").isNull();

        assertThat(establishedWhenHeard).as("client connections up when the guard heard of success").containsExactly(1);
        assertThat(nanosHeard).allSatisfy(n -> assertThat(n).isPositive());
        assertThat(heard.opened.get()).as("connections opened").isEqualTo(1);
        assertThat(heard.connectFailed).isEmpty();
        assertThat(count(registry, "portkeeper.connections.opened")).as("connections.opened").isEqualTo(1);
        assertThat(count(registry, "portkeeper.leases", "outcome", "new")).as("leases{new}").isEqualTo(1);
        assertThat(count(registry, "portkeeper.leases", "outcome", "rejected")).as("leases{rejected}").isZero();
    }
}
