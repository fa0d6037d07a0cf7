package io.github.portkeeper.http;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import io.github.portkeeper.test.TallyListener;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.pool.ConnPoolControl;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * What a user migrating from {@code PoolingHttpClientConnectionManager} reaches for:
 * {@link ConnPoolControl} (limits at run time, stats, {@code closeIdle} through which
 * {@code HttpClientBuilder.evictIdleConnections} works), {@link ConnectionConfig}'s time to live,
 * per-route configuration. Idle and expired connections leave by the retirement policy: the
 * server closes them, never a FIN from here.
 */
class PoolControlTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private final TallyListener tally = new TallyListener();

    private ScriptedHttpServer server() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> r.target().equals("/slow") ? Reply.ok("late", "").after(Duration.ofMillis(2500)) : Reply.ok("ok", ""))
                .start());
        leaks.track(server.address());
        return server;
    }

    private PortkeeperConnectionManager manager(PortkeeperConnectionManagerBuilder b, String name) {
        return leaks.track(b.setPoolConfig(PoolConfig.builder().name(name).listener(tally).build()).build());
    }

    private static String get(CloseableHttpClient client, String url) throws Exception {
        return client.execute(new HttpGet(url), r -> EntityUtils.toString(r.getEntity()));
    }

    @Test
    void limitsChangeAtRunTimeAndStatsAreReportedPerRoute() throws Exception {
        ScriptedHttpServer server = server();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder(), "control");
        ConnPoolControl<HttpRoute> control = manager;
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());
        HttpRoute route = new HttpRoute(new HttpHost("http", "127.0.0.1", server.port()));

        control.setMaxTotal(3);
        control.setDefaultMaxPerRoute(2);
        control.setMaxPerRoute(route, 1);
        assertThat(control.getMaxTotal()).isEqualTo(3);
        assertThat(control.getDefaultMaxPerRoute()).isEqualTo(2);
        assertThat(control.getMaxPerRoute(route)).isEqualTo(1);

        CompletableFuture<String> slow = CompletableFuture.supplyAsync(() -> {
            try {
                return get(client, server.url("/slow"));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> server.requests().size() == 1);
        CompletableFuture<String> queued = CompletableFuture.supplyAsync(() -> {
            try {
                return get(client, server.url("/queued"));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> control.getStats(route).getPending() == 1);
        assertThat(control.getStats(route).getLeased()).isEqualTo(1);
        assertThat(control.getTotalStats().getMax()).isEqualTo(3);
        assertThat(control.getStats(route).getMax()).isEqualTo(1);
        assertThat(control.getRoutes()).containsExactly(route);

        assertThat(slow.get(10, TimeUnit.SECONDS)).isEqualTo("late");
        assertThat(queued.get(10, TimeUnit.SECONDS)).isEqualTo("ok");
        assertThat(server.acceptedPorts()).as("one connection per route at a time").hasSize(1);
        assertThat(control.getStats(route).getAvailable()).isEqualTo(1);
        assertThat(control.getTotalStats().getLeased()).isZero();
    }

    @Test
    void evictIdleConnectionsOfTheHttpClientBuilderRetiresThemSoTheServerClosesFirst() throws Exception {
        // HttpClient's evictor runs every second (at least); it retires the connection idle for
        // 50 ms at its first run, and the server closes it once idle for 2 s.
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().closeIdleAfter(Duration.ofSeconds(2)).start());
        InetSocketAddress address = leaks.track(server.address());
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder(), "evict");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .evictIdleConnections(TimeValue.ofMilliseconds(50)).build());

        get(client, server.url("/"));
        await().atMost(Duration.ofSeconds(10)).until(() -> manager.getTotalStats().getAvailable() == 0
                && !tally.retiringReasons().isEmpty());
        assertThat(tally.retiringReasons()).containsExactly(CloseReason.EVICTED);
        await().atMost(Duration.ofSeconds(10)).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closed(Ending.PEER)).as("ended by the server's FIN: %s", tally).isEqualTo(1);
        assertThat(Kernel.clientTimeWait(address)).as(() -> Kernel.describe(address)).isZero();
    }

    @Test
    void connectionPastItsTimeToLiveIsNotReused() throws Exception {
        ScriptedHttpServer server = server();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setDefaultConnectionConfig(ConnectionConfig.custom().setTimeToLive(TimeValue.ZERO_MILLISECONDS).build()), "ttl");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());

        get(client, server.url("/1"));
        get(client, server.url("/2"));

        assertThat(server.acceptedPorts()).as("a time to live of 0 allows no reuse").hasSize(2);
        assertThat(tally.closed(Ending.LOCAL)).isZero();
    }

    @Test
    void aConnectionPastItsTimeToLiveIsNotCountedAsReusedSoAvoidedNeverExceedsTheRequestsServed() throws Exception {
        ScriptedHttpServer server = server();
        // Reset on retirement: each connection ends without a local FIN, so each is credited
        // once, when it ends, and the count is final once both have ended.
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .setDefaultConnectionConfig(ConnectionConfig.custom().setTimeToLive(TimeValue.ZERO_MILLISECONDS).build())
                .setPoolConfig(PoolConfig.builder().name("ttl-metrics").listener(tally).retirement(Retirement.reset()).build())
                .build());
        PoolMetrics metrics = new PoolMetrics(manager.pool());
        metrics.bindTo(new SimpleMeterRegistry());
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());

        get(client, server.url("/1"));
        get(client, server.url("/2"));
        assertThat(tally.reused()).as("no request went out on a reused connection: %s", tally).isZero();
        assertThat(tally.leases()).as("one lease per request: %s", tally).isEqualTo(2);

        manager.close();
        await().atMost(Duration.ofSeconds(10)).until(() -> tally.closedTotal() == 2);
        assertThat(metrics.timeWaitAvoided()).as("two requests served: %s", tally).isEqualTo(2);
    }

    @Test
    void socketConfigPerRouteComesFromTheResolver() throws Exception {
        ScriptedHttpServer patient = server();
        ScriptedHttpServer impatient = server();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setSocketConfigResolver(route -> route.getTargetHost().getPort() == impatient.port()
                        ? SocketConfig.custom().setSoTimeout(Timeout.ofMilliseconds(500)).build() : null), "per-route");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries().build());

        assertThat(get(client, patient.url("/slow"))).isEqualTo("late");
        assertThatThrownBy(() -> get(client, impatient.url("/slow"))).isInstanceOf(SocketTimeoutException.class);
    }

    @Test
    void connectionConfigPerRouteComesFromTheResolverOnNewAndReusedConnections() throws Exception {
        ScriptedHttpServer patient = server();
        ScriptedHttpServer impatient = server();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setConnectionConfigResolver(route -> route.getTargetHost().getPort() == impatient.port()
                        ? ConnectionConfig.custom().setSocketTimeout(Timeout.ofMilliseconds(500)).build() : null), "per-route-connection");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries().build());

        assertThat(get(client, impatient.url("/fast"))).isEqualTo("ok");
        assertThatThrownBy(() -> get(client, impatient.url("/slow"))).as("on the reused connection")
                .isInstanceOf(SocketTimeoutException.class);
        assertThat(impatient.acceptedPorts()).hasSize(1);
        assertThat(get(client, patient.url("/slow"))).isEqualTo("late");
    }

    @Test
    void aRouteLimitBelowOneIsRefusedNamingTheRouteAndTheValue() throws Exception {
        PortkeeperConnectionManager manager = leaks.closeAfter(manager(PortkeeperConnectionManager.builder(), "route-limit"));
        HttpRoute route = new HttpRoute(new HttpHost("http", "127.0.0.1", 9));

        assertThatThrownBy(() -> manager.setMaxPerRoute(route, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxPerRoute of route " + route + " must be at least 1 (or negative, to follow the default again), but was 0")
                .hasMessageContaining("127.0.0.1:9");
        assertThat(manager.getMaxPerRoute(route)).as("unchanged").isEqualTo(manager.getDefaultMaxPerRoute());
    }

    @Test
    void aDefaultRouteLimitOrTotalLimitBelowOneIsRefusedNamingHttpClientsSetting() throws Exception {
        PortkeeperConnectionManager manager = leaks.closeAfter(manager(PortkeeperConnectionManager.builder(), "default-limits"));
        int perRoute = manager.getDefaultMaxPerRoute();
        int total = manager.getMaxTotal();

        assertThatThrownBy(() -> manager.setDefaultMaxPerRoute(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("defaultMaxPerRoute must be at least 1, but was 0");
        assertThatThrownBy(() -> manager.setMaxTotal(-1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxTotal must be at least 1, but was -1");
        assertThat(manager.getDefaultMaxPerRoute()).as("unchanged").isEqualTo(perRoute);
        assertThat(manager.getMaxTotal()).as("unchanged").isEqualTo(total);
    }

    @Test
    void aNegativeRouteLimitTakesTheRoutesOwnLimitBackAsInHttpClientsPool() throws Exception {
        ScriptedHttpServer server = server();
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder(), "route-limit-back");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());
        HttpRoute route = new HttpRoute(new HttpHost("http", "127.0.0.1", server.port()));
        manager.setDefaultMaxPerRoute(2);
        manager.setMaxPerRoute(route, 1);
        assertThat(get(client, server.url("/"))).isEqualTo("ok"); // the route's endpoint now exists, with limit 1

        manager.setMaxPerRoute(route, -1);
        assertThat(manager.getMaxPerRoute(route)).isEqualTo(2);
        manager.setDefaultMaxPerRoute(3);
        assertThat(manager.getMaxPerRoute(route)).as("follows later changes of the default").isEqualTo(3);

        // Two requests at once on the route: with the limit of 1 still in force the second would
        // queue behind the slow one; now both run, on two connections.
        CompletableFuture<String> slow = CompletableFuture.supplyAsync(() -> {
            try {
                return get(client, server.url("/slow"));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> manager.getStats(route).getLeased() == 1);
        assertThat(get(client, server.url("/beside"))).isEqualTo("ok");
        assertThat(manager.getStats(route).getLeased()).as("the slow one still out").isEqualTo(1);
        assertThat(slow.get(10, TimeUnit.SECONDS)).isEqualTo("late");
        assertThat(server.acceptedPorts()).hasSize(2);
    }

    @Test
    void closeExpiredRetiresAConnectionPastItsTimeToLiveSoTheServerClosesItAndKeepsOneNotExpired() throws Exception {
        // The server closes connections idle for 1.5 s, well after the time to live of 200 ms: the
        // expired one, once retired (no longer leased, left open), ends by the server's FIN. The
        // other server never closes idle ones.
        ScriptedHttpServer expiring = leaks.closeAfter(ScriptedHttpServer.builder().closeIdleAfter(Duration.ofMillis(1500)).start());
        InetSocketAddress expiringAddress = leaks.track(expiring.address());
        ScriptedHttpServer lasting = server();
        Duration timeToLive = Duration.ofMillis(200);
        PortkeeperConnectionManager manager = manager(PortkeeperConnectionManager.builder()
                .setConnectionConfigResolver(route -> ConnectionConfig.custom().setTimeToLive(TimeValue.ofMilliseconds(
                        route.getTargetHost().getPort() == expiring.port() ? timeToLive.toMillis() : TimeUnit.HOURS.toMillis(1))).build()),
                "close-expired");
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());
        HttpRoute expiringRoute = new HttpRoute(new HttpHost("http", "127.0.0.1", expiring.port()));
        HttpRoute lastingRoute = new HttpRoute(new HttpHost("http", "127.0.0.1", lasting.port()));

        long connected = System.nanoTime();
        get(client, expiring.url("/"));
        get(client, lasting.url("/1"));
        // Expiry is checked by closeExpired() alone (HttpClient's evictor calls it); poll it.
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).untilAsserted(() -> {
            manager.closeExpired();
            assertThat(tally.retiringReasons()).containsExactly(CloseReason.EVICTED);
        });

        assertThat(Duration.ofNanos(System.nanoTime() - connected)).as("not before its time to live").isGreaterThanOrEqualTo(timeToLive);
        assertThat(manager.getStats(expiringRoute).getAvailable()).isZero();
        assertThat(manager.getStats(lastingRoute).getAvailable()).as("not expired: kept").isEqualTo(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closed(Ending.PEER)).as("ended by the server's FIN: %s", tally).isEqualTo(1);
        assertThat(Kernel.clientTimeWait(expiringAddress)).as(() -> Kernel.describe(expiringAddress)).isZero();
        get(client, lasting.url("/2"));
        assertThat(lasting.acceptedPorts()).as("the kept connection serves the next request").hasSize(1);
    }
}
