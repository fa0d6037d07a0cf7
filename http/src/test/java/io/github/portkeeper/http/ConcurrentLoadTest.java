package io.github.portkeeper.http;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.http.testing.FreshWireMock;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ServerConnections;
import io.github.portkeeper.test.TallyListener;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.ok;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Issue 4, acceptance 1: a busy client reuses a handful of keep-alive connections, never more
 * than the route limit, and leaves no TIME_WAIT behind; {@code timewait.avoided} counts every
 * request.
 */
class ConcurrentLoadTest {

    private static final int REQUESTS = 10_000;
    private static final int CONCURRENCY = 16;
    private static final int ROUTE_LIMIT = 16;

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    @Test
    void tenThousandConcurrentGetsOpenNoMoreConnectionsThanTheRouteLimitAndLeaveNoTimeWait() throws Exception {
        ServerConnections accepted = ServerConnections.counting();
        WireMockServer wireMock = FreshWireMock.http(o -> o
                .containerThreads(64).disableRequestJournal().networkTrafficListener(accepted));
        leaks.closeAfter(wireMock::stop);
        wireMock.stubFor(get("/item").willReturn(ok("ok")));
        InetSocketAddress server = leaks.track(new InetSocketAddress("127.0.0.1", wireMock.port()));

        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .poolConfig(PoolConfig.builder().name("load").maxPerEndpoint(ROUTE_LIMIT).listener(tally).build()).build());
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        PoolMetrics metrics = new PoolMetrics(manager.pool());
        metrics.bindTo(registry);
        CloseableHttpClient client = leaks.closeAfter(PortkeeperHttpClients.custom().connectionManager(manager).build());

        ExecutorService workers = Executors.newFixedThreadPool(CONCURRENCY);
        leaks.closeAfter(() -> workers.shutdownNow());
        AtomicInteger succeeded = new AtomicInteger();
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        String url = "http://127.0.0.1:" + wireMock.port() + "/item";
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int w = 0; w < CONCURRENCY; w++) {
            tasks.add(() -> {
                for (int i = 0; i < REQUESTS / CONCURRENCY; i++) {
                    try {
                        String body = client.execute(new HttpGet(url), r -> EntityUtils.toString(r.getEntity()));
                        if ("ok".equals(body)) {
                            succeeded.incrementAndGet();
                        } else {
                            failures.add(new AssertionError("unexpected body " + body));
                        }
                    } catch (Exception e) {
                        failures.add(e);
                    }
                }
                return null;
            });
        }
        for (Future<Void> f : workers.invokeAll(tasks, 60, TimeUnit.SECONDS)) {
            assertThat(f.isCancelled()).as("a worker did not finish within 60 s").isFalse();
        }

        assertThat(failures).as("failed requests").isEmpty();
        assertThat(succeeded).hasValue(REQUESTS);
        assertThat(tally.opened()).as("connections opened (pool)").isBetween(1L, (long) ROUTE_LIMIT);
        assertThat(accepted.opened()).as("connections accepted (WireMock)").isEqualTo((int) tally.opened());
        assertThat(registry.get("portkeeper.connections.opened").counter().count()).isEqualTo((double) tally.opened());
        assertThat(metrics.leasesServed()).as("leases: one per request, no retries").isEqualTo(REQUESTS);
        assertThat(Kernel.clientTimeWait(server)).as(() -> Kernel.describe(server)).isZero();

        // Every connection ends: the pool's close falls back to RESET, which leaves no TIME_WAIT.
        client.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> tally.closedTotal() == tally.opened());
        long timeWaitCaused = metrics.timeWaitCaused();
        assertThat(tally.closed(Ending.LOCAL)).isEqualTo(timeWaitCaused).isZero();
        // Per-endpoint meters go with their endpoint once it has no connection left: sum what is there.
        assertThat(registry.find("portkeeper.timewait.caused").counters().stream().mapToDouble(c -> c.count()).sum()).isZero();
        assertThat(metrics.timeWaitAvoided()).isEqualTo(REQUESTS - timeWaitCaused);
        assertThat(registry.get("portkeeper.timewait.avoided").functionCounter().count()).isEqualTo((double) REQUESTS);
        assertThat(Kernel.clientTimeWait(server)).as("kernel TIME_WAIT = timewait.caused; " + Kernel.describe(server))
                .isEqualTo((int) timeWaitCaused);
        assertThat(Kernel.clientCloseWait(server)).as(() -> Kernel.describe(server)).isZero();
        System.out.printf("[ConcurrentLoadTest] requests=%d connections=%d closes=%s avoided=%d caused=%d; %s%n", REQUESTS,
                tally.opened(), tally.closedEvents().stream().map(c -> c.ending() + "/" + c.reason()).distinct().toList(),
                metrics.timeWaitAvoided(), timeWaitCaused, Kernel.describe(server));
    }
}
