package io.github.portkeeper.okhttp;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.github.portkeeper.core.CloseOwningSocketFactory;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import okhttp3.Call;
import okhttp3.Connection;
import okhttp3.Dispatcher;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.Proxy;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.ok;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class PortkeeperOkHttpTest {

    private WireMockServer server;

    @BeforeEach
    void start() {
        server = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
        server.start();
        server.stubFor(get("/item").willReturn(ok("item").withFixedDelay(50)));
    }

    @AfterEach
    void stop() {
        server.stop();
    }

    private String url() {
        return "http://127.0.0.1:" + server.port() + "/item";
    }

    @Test
    void configuredClientKeepsAsManyIdleConnectionsAsItsConcurrencyAndReportsLeases() throws Exception {
        int concurrency = 8;
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("okhttp-configured").build();
        MeterRegistry registry = new SimpleMeterRegistry();
        PoolMetrics.of(sockets).bindTo(registry);
        OkHttpClient client = PortkeeperOkHttp.configure(new OkHttpClient.Builder(), sockets, concurrency).build();

        burst(client, concurrency);
        assertThat(client.connectionPool().idleConnectionCount()).as("all 8 kept, not evicted down to OkHttp's 5").isEqualTo(concurrency);
        burst(client, concurrency);

        assertThat(client.socketFactory()).isSameAs(sockets);
        assertThat(client.dispatcher().getMaxRequestsPerHost()).isEqualTo(concurrency);
        assertThat(leases(registry, "new")).isEqualTo(count(registry, "portkeeper.connections.opened")).isEqualTo(concurrency);
        assertThat(leases(registry, "reused")).isEqualTo(concurrency);
        assertThat(count(registry, "portkeeper.timewait.avoided")).isEqualTo(concurrency);
    }

    @Test
    void aListenerOfYourOwnAddedWithPlusSeesEachCallAndPortkeeperStillCountsTheLeases() throws Exception {
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("okhttp-own-listener").build();
        MeterRegistry registry = new SimpleMeterRegistry();
        PoolMetrics.of(sockets).bindTo(registry);
        List<String> seen = new CopyOnWriteArrayList<>();
        EventListener mine = new EventListener() {
            @Override
            public void connectStart(Call call, InetSocketAddress address, Proxy proxy) {
                seen.add("connectStart");
            }

            @Override
            public void connectionAcquired(Call call, Connection connection) {
                seen.add("connectionAcquired");
            }

            @Override
            public void callEnd(Call call) {
                seen.add("callEnd");
            }
        };
        // As docs/any-client.md says: configure, then put Portkeeper's listener and yours together.
        OkHttpClient client = PortkeeperOkHttp.configure(new OkHttpClient.Builder(), sockets, 4)
                .eventListenerFactory(call -> PortkeeperOkHttp.eventListener(sockets).plus(mine))
                .build();

        burst(client, 1);
        burst(client, 1);

        assertThat(seen).as("your listener, call by call")
                .containsExactly("connectStart", "connectionAcquired", "callEnd", "connectionAcquired", "callEnd");
        assertThat(leases(registry, "new")).as("Portkeeper's accounting").isEqualTo(1);
        assertThat(leases(registry, "reused")).isEqualTo(1);
        assertThat(count(registry, "portkeeper.connections.opened")).isEqualTo(1);
        client.connectionPool().evictAll();
    }

    @Test
    void settingsAreValidated() {
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.create();
        assertThatThrownBy(() -> PortkeeperOkHttp.configure(new OkHttpClient.Builder(), sockets, 0))
                .hasMessage("concurrency must be at least 1, but was 0");
        assertThatThrownBy(() -> PortkeeperOkHttp.configure(new OkHttpClient.Builder(), sockets, 4, Duration.ZERO))
                .hasMessage("keepAlive must be positive, but was PT0S");
    }

    @Test
    void aBuilderWithASocksProxyIsRefusedSinceOkHttpWouldConnectAroundTheSocketFactory() {
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("okhttp-socks").build();
        Proxy socks = new Proxy(Proxy.Type.SOCKS, new InetSocketAddress("127.0.0.1", 1080));
        OkHttpClient.Builder builder = new OkHttpClient.Builder().proxy(socks);

        assertThatThrownBy(() -> PortkeeperOkHttp.configure(builder, sockets, 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("proxy must not be a SOCKS proxy, but was " + socks + ": OkHttp opens a connection through a "
                        + "SOCKS proxy with new Socket(proxy), never with the socket factory, so Portkeeper would own none "
                        + "of its closes");
        Proxy http = new Proxy(Proxy.Type.HTTP, new InetSocketAddress("127.0.0.1", 3128));
        assertThat(PortkeeperOkHttp.configure(new OkHttpClient.Builder().proxy(http), sockets, 4).build().proxy())
                .as("an HTTP proxy is reached through the socket factory").isEqualTo(http);
    }

    @Test
    void aDispatcherOfYourOwnIsKeptWithItsLimitsRaisedToTheConcurrency() {
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("okhttp-own-dispatcher").build();
        Dispatcher own = new Dispatcher();
        own.setMaxRequests(100);
        own.setMaxRequestsPerHost(2);

        OkHttpClient client = PortkeeperOkHttp.configure(new OkHttpClient.Builder().dispatcher(own), sockets, 8).build();

        assertThat(client.dispatcher()).isSameAs(own);
        assertThat(own.getMaxRequests()).as("already above the concurrency: left as it was").isEqualTo(100);
        assertThat(own.getMaxRequestsPerHost()).isEqualTo(8);
    }

    @Test
    void aSubMillisecondKeepAliveIsKeptAsGivenNotTurnedIntoZero() throws Exception {
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.create();
        OkHttpClient client = PortkeeperOkHttp.configure(new OkHttpClient.Builder(), sockets, 4, Duration.ofNanos(500_000)).build();

        burst(client, 1);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(client.connectionPool().connectionCount()).as("connections kept past a 500 µs keep-alive").isZero());
    }

    @Test
    void aKeepAliveTooLongForTheClockIsTakenAsTheLongestNotAnArithmeticException() throws Exception {
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.create();
        OkHttpClient client = PortkeeperOkHttp.configure(new OkHttpClient.Builder(), sockets, 4, Duration.ofSeconds(Long.MAX_VALUE)).build();

        burst(client, 1);
        assertThat(client.connectionPool().idleConnectionCount()).as("the connection kept for reuse").isEqualTo(1);
        client.connectionPool().evictAll();
    }

    /** {@code n} requests in flight at once (a latch holds them until all threads are ready). */
    private void burst(OkHttpClient client, int n) throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch ready = new CountDownLatch(n);
            Future<?>[] calls = new Future<?>[n];
            for (int i = 0; i < n; i++) {
                calls[i] = threads.submit(() -> {
                    ready.countDown();
                    ready.await(10, TimeUnit.SECONDS);
                    try (Response r = client.newCall(new Request.Builder().url(url()).build()).execute()) {
                        return r.body().string();
                    }
                });
            }
            for (Future<?> f : calls) {
                assertThat(f.get(30, TimeUnit.SECONDS)).isEqualTo("item");
            }
        } finally {
            threads.shutdownNow();
        }
    }

    private static long leases(MeterRegistry registry, String outcome) {
        return (long) registry.find("portkeeper.leases").tag("outcome", outcome).counters().stream().mapToDouble(Counter::count).sum();
    }

    private static long count(MeterRegistry registry, String name) {
        return (long) registry.find(name).meters().stream()
                .mapToDouble(m -> m.measure().iterator().next().getValue()).sum();
    }
}
