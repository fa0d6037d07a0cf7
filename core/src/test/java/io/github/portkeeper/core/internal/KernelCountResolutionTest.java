package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.core.testing.FakeTicker;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

/**
 * How the kernel counts (the port budget's other sockets, the kernel gauges) see an endpoint's
 * addresses: looked up again as the JVM's DNS cache would (a connector connects to whatever the
 * name resolves to now), never on the kernel reader's thread, and not at all for an endpoint the
 * pool has forgotten. Names are mapped to loopback addresses through the lookup seam; the
 * sockets counted are real ones, read from the kernel's table.
 */
class KernelCountResolutionTest {

    /** 100 ports per endpoint, kernel counting on. */
    private static final PortBudget HUNDRED = PortBudget.ofRange(40000, 40199).withShare(0.5);
    /** Past the JVM's default positive DNS cache TTL (30 s with no security manager). */
    private static final Duration PAST_DNS_TTL = Duration.ofSeconds(31);

    private final Map<String, InetAddress> names = new ConcurrentHashMap<>();
    private final Map<String, CountDownLatch> hanging = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> lookups = new ConcurrentHashMap<>();
    private final List<AutoCloseable> closeLast = new ArrayList<>();
    private EndpointAddresses.Lookup jvmLookup;

    @BeforeEach
    void mapTestNames() {
        assumeThat(KernelProbe.linux().isAvailable()).as("needs /proc/net/tcp").isTrue();
        jvmLookup = EndpointAddresses.lookup;
        EndpointAddresses.lookup = host -> {
            InetAddress a = names.get(host);
            if (a == null) {
                return jvmLookup.allByName(host);
            }
            lookups.computeIfAbsent(host, h -> new AtomicInteger()).incrementAndGet();
            CountDownLatch hang = hanging.get(host);
            if (hang != null) {
                try {
                    hang.await(60, TimeUnit.SECONDS); // bounded: a failed test must not keep a thread for good
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new UnknownHostException(host);
                }
            }
            return new InetAddress[] {names.get(host)};
        };
    }

    @AfterEach
    void restore() throws Exception {
        hanging.values().forEach(CountDownLatch::countDown);
        if (jvmLookup != null) {
            EndpointAddresses.lookup = jvmLookup;
        }
        for (int i = closeLast.size() - 1; i >= 0; i--) {
            closeLast.get(i).close();
        }
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void afterADnsChangeTheBudgetCountsOtherSocketsTowardTheNewAddressOnceTheJvmsDnsCacheWouldHaveExpired() throws Exception {
        ServerSocket[] servers = serversOnOnePort("127.0.0.2", "127.0.0.3");
        int port = servers[0].getLocalPort();
        names.put("switch.test", InetAddress.getByName("127.0.0.2"));
        hold(2, servers[0]);
        hold(3, servers[1]);
        FakeTicker ticker = new FakeTicker();
        Pool<Object> pool = pool("dns-switch", ticker, Duration.ofMinutes(10));
        Endpoint endpoint = Endpoint.of("switch.test", port);
        leaseAndReset(pool, endpoint);
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                assertThat(others(pool, endpoint)).as("sockets toward 127.0.0.2, where the name points").isEqualTo(2));

        names.put("switch.test", InetAddress.getByName("127.0.0.3"));
        ticker.advance(Duration.ofSeconds(20)); // within the TTL: a connect would still reach 127.0.0.2
        long reads = KernelReads.count();
        await().atMost(Duration.ofSeconds(30)).until(() -> KernelReads.count() >= reads + 2);
        assertThat(lookups.get("switch.test")).as("lookups of the name within the DNS cache's TTL").hasValue(1);
        assertThat(others(pool, endpoint)).isEqualTo(2);

        ticker.advance(PAST_DNS_TTL.minusSeconds(20));
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(others(pool, endpoint)).as("sockets toward 127.0.0.3, where the name points now").isEqualTo(3));
        assertThat(lookups.get("switch.test")).hasValue(2);
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void afterADnsChangeTheKernelGaugesCountSocketsTowardTheNewAddressOnceTheJvmsDnsCacheWouldHaveExpired() throws Exception {
        ServerSocket[] servers = serversOnOnePort("127.0.0.2", "127.0.0.3");
        int port = servers[0].getLocalPort();
        names.put("gauge-switch.test", InetAddress.getByName("127.0.0.2"));
        closeWait(1, servers[0]);
        closeWait(2, servers[1]);
        FakeTicker ticker = new FakeTicker();
        Pool<Object> pool = pool("dns-switch-gauges", ticker, Duration.ofMinutes(10));
        Endpoint endpoint = Endpoint.of("gauge-switch.test", port);
        pool.lease(endpoint).close(); // the endpoint stays, with an idle connection
        MeterRegistry registry = new SimpleMeterRegistry();
        new PoolMetrics(pool).bindTo(registry);
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                assertThat(closeWaitGauge(registry)).as("CLOSE_WAIT toward 127.0.0.2").isEqualTo(1.0));

        names.put("gauge-switch.test", InetAddress.getByName("127.0.0.3"));
        ticker.advance(PAST_DNS_TTL);
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                assertThat(closeWaitGauge(registry)).as("CLOSE_WAIT toward 127.0.0.3, where the name points now").isEqualTo(2.0));
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void aNameWhoseLookupHangsDelaysNoOtherEndpointsKernelCount() throws Exception {
        ServerSocket server = serversOnOnePort("127.0.0.2")[0];
        int port = server.getLocalPort();
        names.put("slow.test", InetAddress.getByName("127.0.0.2"));
        names.put("fast.test", InetAddress.getByName("127.0.0.2"));
        CountDownLatch slowAnswers = new CountDownLatch(1);
        hanging.put("slow.test", slowAnswers);
        hold(2, server);
        Pool<Object> pool = pool("hanging-lookup", new FakeTicker(), Duration.ofMinutes(10));
        Endpoint slow = Endpoint.of("slow.test", port);
        Endpoint fast = Endpoint.of("fast.test", port);

        CompletableFuture<Void> slowLease = CompletableFuture.runAsync(() -> {
            try {
                leaseAndReset(pool, slow);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        await().atMost(Duration.ofSeconds(20)).until(() -> lookups.containsKey("slow.test"));
        leaseAndReset(pool, fast);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(others(pool, fast)).as("fast.test's other sockets, counted while slow.test's lookup hangs").isEqualTo(2));
        assertThat(slowAnswers.getCount()).as("slow.test's lookup still hangs").isEqualTo(1);

        slowAnswers.countDown();
        slowLease.get(30, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                assertThat(others(pool, slow)).as("slow.test counted once its lookup answered").isEqualTo(2));
    }

    // ------------------------------------------------------------------ helpers

    private Pool<Object> pool(String name, FakeTicker ticker, Duration maxIdleTime) {
        Pool<Object> pool = Pool.of(new ResetStub(), PoolConfig.builder().name(name).ticker(ticker)
                .maxIdleTime(maxIdleTime).portBudget(HUNDRED).build());
        closeLast.add(pool::close);
        return pool;
    }

    /** One connection of the pool's own (no socket), closed without TIME_WAIT: the kernel's count is all others. */
    private static void leaseAndReset(Pool<Object> pool, Endpoint endpoint) throws IOException {
        try (Lease<Object> lease = pool.lease(endpoint)) {
            lease.retire();
        }
    }

    private static int others(Pool<Object> pool, Endpoint endpoint) {
        var u = pool.portBudget().endpoints().get(endpoint);
        return u == null ? -1 : u.otherSockets();
    }

    private static double closeWaitGauge(MeterRegistry registry) {
        return registry.get("portkeeper.tcp.closewait").gauge().value();
    }

    /** Listening sockets on the given loopback addresses, all on one port. */
    private ServerSocket[] serversOnOnePort(String... hosts) throws IOException {
        for (int attempt = 0; ; attempt++) {
            ServerSocket[] out = new ServerSocket[hosts.length];
            int port = 0;
            try {
                for (int i = 0; i < hosts.length; i++) {
                    out[i] = new ServerSocket();
                    out[i].bind(new InetSocketAddress(InetAddress.getByName(hosts[i]), port), 100);
                    port = out[i].getLocalPort();
                }
                for (ServerSocket s : out) {
                    closeLast.add(s);
                }
                return out;
            } catch (BindException taken) {
                for (ServerSocket s : out) {
                    if (s != null) {
                        s.close();
                    }
                }
                if (attempt == 20) {
                    throw taken;
                }
            }
        }
    }

    /** Opens {@code n} connections to {@code server} from outside any pool and keeps them open. */
    private void hold(int n, ServerSocket server) throws IOException {
        for (int i = 0; i < n; i++) {
            Socket s = new Socket(server.getInetAddress(), server.getLocalPort());
            closeLast.add(s);
            closeLast.add(server.accept());
        }
    }

    /** Leaves {@code n} connections toward {@code server} in CLOSE_WAIT: the server closed, the client did not. */
    private void closeWait(int n, ServerSocket server) throws IOException {
        for (int i = 0; i < n; i++) {
            Socket s = new Socket(server.getInetAddress(), server.getLocalPort());
            closeLast.add(s);
            server.accept().close();
        }
    }

    /** Connections without sockets that end with a reset: no TIME_WAIT of the pool's own. */
    private static final class ResetStub implements Connector<Object> {
        @Override
        public Object connect(Endpoint endpoint) {
            return new Object();
        }

        @Override
        public Ending endingWithoutChannel(Object connection) {
            return Ending.RESET;
        }
    }
}
