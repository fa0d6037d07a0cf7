package io.github.portkeeper.example.catalog;

import com.jayway.jsonpath.JsonPath;
import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.util.VersionInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.web.client.RestClient;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The example service on a real port, calling a real catalog (the JDK's HTTP server) over
 * loopback: the acceptance test of the starters, run by one module per Spring Boot line with
 * nothing but that line's starter added. The kernel ({@code /proc/net/tcp}) is the judge of
 * TIME_WAIT; the catalog counts the connections it served (distinct client addresses).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "portkeeper.pool.max-per-endpoint=" + CatalogApplicationTest.ROUTE_LIMIT,
        "management.endpoints.web.exposure.include=health,metrics",
        "management.endpoint.health.show-details=always",
        "management.endpoint.health.show-components=always"})
class CatalogApplicationTest {

    static final int ROUTE_LIMIT = 4;
    private static final int CALLS = 1_000;
    private static final int CONCURRENCY = 16;

    private static final Catalog catalog = new Catalog();

    @DynamicPropertySource
    static void catalogUrl(DynamicPropertyRegistry registry) {
        registry.add("catalog.base-url", () -> "http://127.0.0.1:" + catalog.port());
    }

    @AfterAll
    static void stopCatalog() {
        catalog.stop();
    }

    @LocalServerPort
    int port;

    @Autowired
    RestClient.Builder restClientBuilder;

    private final HttpClient actuator = HttpClient.newHttpClient();

    @Test
    void thousandCallsThroughBootsRestClientStayWithinTheRouteLimitAndLeaveNoTimeWait() throws Exception {
        InetSocketAddress catalogAddress = new InetSocketAddress("127.0.0.1", catalog.port());
        KernelProbe kernel = KernelProbe.linux();
        RestClient client = restClientBuilder.baseUrl("http://127.0.0.1:" + catalog.port()).build();

        // Watch the kernel while the calls run: TIME_WAIT, CLOSE_WAIT and open connections toward
        // the catalog. The peaks prove nothing unless samples were taken while the calls ran, so the
        // watcher counts those that began after a call had succeeded and ended before the last
        // calls, and each worker holds its last call until there is one: the load cannot end
        // without the kernel having been looked at in its midst.
        boolean watched = kernel.isAvailable();
        AtomicInteger succeeded = new AtomicInteger();
        AtomicBoolean lastCallsStarted = new AtomicBoolean();
        AtomicBoolean watching = new AtomicBoolean(true);
        AtomicInteger samplesDuringLoad = new AtomicInteger();
        CountDownLatch sampledDuringLoad = new CountDownLatch(1);
        AtomicInteger peakTimeWait = new AtomicInteger();
        AtomicInteger peakCloseWait = new AtomicInteger();
        AtomicInteger peakEstablished = new AtomicInteger();
        Thread watcher = new Thread(() -> {
            while (watching.get()) {
                boolean afterACall = succeeded.get() > 0;
                SocketTable t = kernel.snapshot();
                peakTimeWait.accumulateAndGet(t.countToRemote(TcpState.TIME_WAIT, catalogAddress), Math::max);
                peakCloseWait.accumulateAndGet(t.countToRemote(TcpState.CLOSE_WAIT, catalogAddress), Math::max);
                peakEstablished.accumulateAndGet(t.countToRemote(TcpState.ESTABLISHED, catalogAddress), Math::max);
                if (afterACall && !lastCallsStarted.get()) {
                    samplesDuringLoad.incrementAndGet();
                    sampledDuringLoad.countDown();
                }
                try {
                    Thread.sleep(20); // the pace of the samples, not a wait for anything
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "kernel-watcher");
        // A watcher that died would leave the peaks at 0; its failure is reported.
        AtomicReference<Throwable> watcherFailure = new AtomicReference<>();
        watcher.setUncaughtExceptionHandler((thread, e) -> watcherFailure.set(e));
        if (watched) {
            watcher.start();
        }

        ExecutorService workers = Executors.newFixedThreadPool(CONCURRENCY);
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < CONCURRENCY; w++) {
                int worker = w;
                futures.add(workers.submit(() -> {
                    for (int i = worker; i < CALLS; i += CONCURRENCY) {
                        if (watched && i + CONCURRENCY >= CALLS && !awaitSampleDuringLoad(sampledDuringLoad, lastCallsStarted)) {
                            failures.add(new AssertionError("no kernel sample was taken while the calls ran"));
                        }
                        try {
                            if ("item".equals(client.get().uri("/items/{id}", i).retrieve().body(String.class))) {
                                succeeded.incrementAndGet();
                            }
                        } catch (RuntimeException e) {
                            failures.add(e);
                        }
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get(90, TimeUnit.SECONDS);
            }
        } finally {
            workers.shutdownNow();
            watching.set(false);
            watcher.interrupt();
            if (watched) {
                watcher.join(TimeUnit.SECONDS.toMillis(30));
            }
        }
        assertThat(watcherFailure.get()).as("the kernel watcher thread's failure").isNull();

        assertThat(failures).as("failed calls").isEmpty();
        assertThat(succeeded).hasValue(CALLS);
        assertThat(catalog.connections()).as("connections the catalog served").isBetween(1, ROUTE_LIMIT);
        if (watched) {
            assertThat(samplesDuringLoad.get()).as("kernel samples taken while the calls ran").isPositive();
            // At least one: a sample began after a call had succeeded, on a connection the pool keeps open.
            assertThat(peakEstablished.get()).as("peak connections open to the catalog (kernel)").isBetween(1, ROUTE_LIMIT);
            assertThat(peakTimeWait.get()).as("peak client TIME_WAIT toward the catalog (kernel)").isZero();
            assertThat(peakCloseWait.get()).as("peak client CLOSE_WAIT toward the catalog (kernel)").isZero();
            assertThat(kernel.snapshot().countToRemote(TcpState.TIME_WAIT, catalogAddress)).isZero();
        }

        // The service itself, through its RestClient bean.
        assertThat(getString("/products/42")).isEqualTo("item");

        String opened = getString("/actuator/metrics/portkeeper.connections.opened");
        assertThat(count(opened)).as("portkeeper.connections.opened").isEqualTo(catalog.connections());
        List<String> pools = JsonPath.read(opened, "$.availableTags[?(@.tag == 'pool')].values[*]");
        assertThat(pools).contains("http");

        String avoided = getString("/actuator/metrics/portkeeper.timewait.avoided");
        assertThat(count(avoided)).as("portkeeper.timewait.avoided").isGreaterThanOrEqualTo(CALLS + 1 - ROUTE_LIMIT);

        String health = getString("/actuator/health");
        assertThat((String) JsonPath.read(health, "$.components.portkeeper.status")).isEqualTo("UP");
        assertThat((Integer) JsonPath.read(health, "$.components.portkeeper.details.pools.http.endpoints['127.0.0.1:"
                + catalog.port() + "'].live")).isBetween(1, ROUTE_LIMIT);
        if (kernel.isAvailable()) {
            assertThat((Integer) JsonPath.read(health, "$.components.portkeeper.details.pools.http.kernel.timeWait")).isZero();
            assertThat((Integer) JsonPath.read(health, "$.components.portkeeper.details.pools.http.kernel.closeWait")).isZero();
        }
    }

    /**
     * The application runs on the HttpClient and HttpCore its Boot line manages (each module names
     * them), not on versions an override put there: adding the starter is all it takes.
     */
    @Test
    void runsOnTheHttpClientItsBootLineManages() {
        String client = System.getProperty("portkeeper.test.httpclient5");
        String core = System.getProperty("portkeeper.test.httpcore5");
        assumeTrue(client != null && core != null, "run by a Boot line's module, which names the managed versions");
        ClassLoader loader = CloseableHttpClient.class.getClassLoader();
        assertThat(VersionInfo.loadVersionInfo("org.apache.hc.client5", loader).getRelease()).isEqualTo(client);
        assertThat(VersionInfo.loadVersionInfo("org.apache.hc.core5", loader).getRelease()).isEqualTo(core);
    }

    /**
     * Holds a worker's last call until the kernel watcher took a sample while the calls ran; the
     * first worker to get there ends the window for such samples.
     *
     * @return whether there was one within the (generous) bound
     */
    private static boolean awaitSampleDuringLoad(CountDownLatch sampled, AtomicBoolean lastCallsStarted) {
        try {
            return sampled.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lastCallsStarted.set(true);
        }
    }

    /** The COUNT measurement of an /actuator/metrics/{name} answer. */
    private static double count(String metric) {
        List<?> values = JsonPath.read(metric, "$.measurements[?(@.statistic == 'COUNT')].value");
        assertThat(values).as(metric).hasSize(1);
        return ((Number) values.get(0)).doubleValue();
    }

    private String getString(String path) throws Exception {
        HttpResponse<String> response = actuator.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as("GET " + path + ": " + response.body()).isEqualTo(200);
        return response.body();
    }

    /**
     * The catalog: answers {@code /items/*} with {@code item} on keep-alive connections and
     * remembers each client address it served, one per connection the pool opened.
     */
    static final class Catalog {

        private final Set<InetSocketAddress> clients = ConcurrentHashMap.newKeySet();
        private final ExecutorService executor = Executors.newFixedThreadPool(32);
        private final HttpServer server;

        Catalog() {
            try {
                server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 256);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            server.createContext("/items/", exchange -> {
                clients.add(exchange.getRemoteAddress());
                byte[] body = "item".getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().add("Content-Type", "text/plain");
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            });
            server.setExecutor(executor);
            server.start();
        }

        int port() {
            return server.getAddress().getPort();
        }

        int connections() {
            return clients.size();
        }

        void stop() {
            server.stop(0);
            executor.shutdownNow();
        }
    }
}
