package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.http.PortkeeperHttpClients;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.util.TimeValue;

import java.io.Closeable;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * What idle pooled connections cost the client process, measured from outside the library: the
 * threads it adds, their CPU and their wakeups over a quiet window, read from
 * {@code /proc/self/task/*} (CPU from {@code stat}, wakeups from {@code status}'s context-switch
 * counts). One client kind per JVM run, against an HTTP/1.1 keep-alive server in a child process
 * (so the server's threads are not counted).
 *
 * <p>Run (Linux):
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar io.github.portkeeper.benchmarks.IdleCost CLIENT POOLS PER_POOL SECONDS [budget|nobudget]
 * </pre>
 * {@code CLIENT} is {@code portkeeper} (the Portkeeper-pooled HttpClient), {@code httpclient}
 * (stock HttpClient 5 with its {@code IdleConnectionEvictor}) or {@code okhttp} (OkHttp 5).
 */
public final class IdleCost {

    private IdleCost() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("server")) {
            BenchServer.main(new String[0]);
            return;
        }
        String client = args[0];
        int pools = Integer.parseInt(args[1]);
        int perPool = Integer.parseInt(args[2]);
        int seconds = Integer.parseInt(args[3]);
        boolean budget = args.length < 5 || !args[4].equals("nobudget");

        Process server = BenchServer.spawn();
        try {
            int port = BenchServer.port(server);
            String base = "http://127.0.0.1:" + port + "/?delay=15000";

            Set<Integer> baseline = TaskStats.tids();
            List<Closeable> clients = new ArrayList<>();
            List<Fetcher> fetchers = new ArrayList<>();
            for (int p = 0; p < pools; p++) {
                Fetcher f = create(client, "pool-" + p, perPool, budget, clients);
                fetchers.add(f);
            }
            long t0 = System.nanoTime();
            // Every pool at once: one after the other, each held by the server for 15 s, the first
            // pools' connections would pass the 2 min idle limit before the window.
            ExecutorService opening = Executors.newFixedThreadPool(pools);
            List<Future<?>> opened = new ArrayList<>();
            for (Fetcher f : fetchers) {
                opened.add(opening.submit(() -> {
                    openConcurrently(f, base, perPool);
                    return null;
                }));
            }
            for (Future<?> o : opened) {
                o.get(180, TimeUnit.SECONDS);
            }
            opening.shutdown();
            long setupMillis = (System.nanoTime() - t0) / 1_000_000;
            Thread.sleep(3_000); // settle: watches registered, evictors asleep
            InetSocketAddress target = new InetSocketAddress("127.0.0.1", port);
            int established = KernelProbe.linux().snapshot().countToRemote(TcpState.ESTABLISHED, target);

            Map<Integer, TaskStats> before = TaskStats.all();
            Thread.sleep(seconds * 1000L);
            Map<Integer, TaskStats> after = TaskStats.all();
            int establishedAfter = KernelProbe.linux().snapshot().countToRemote(TcpState.ESTABLISHED, target);

            TaskStats.Delta library = TaskStats.delta(before, after, baseline, false);
            TaskStats.Delta process = TaskStats.delta(before, after, baseline, true);
            double window = seconds;
            System.out.printf("client=%s pools=%d perPool=%d budget=%s setup=%dms established=%d/%d%n",
                    client, pools, perPool, budget ? "on" : "off", setupMillis, established, establishedAfter);
            System.out.printf("| %s | %d × %d | %s | %d | %.2f %% | %.1f | %.2f %% | %.1f | %s |%n",
                    client, pools, perPool, budget ? "on" : "off", library.threads(),
                    100.0 * library.cpuSeconds() / window, library.wakeups() / window,
                    100.0 * process.cpuSeconds() / window, process.wakeups() / window, library.names());
            for (Closeable c : clients) {
                c.close();
            }
        } finally {
            server.destroy();
            server.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /** One GET, with the body read, on a given client. */
    interface Fetcher {
        void get(String url) throws Exception;
    }

    private static Fetcher create(String kind, String name, int perPool, boolean budget, List<Closeable> clients) {
        switch (kind) {
            case "portkeeper": {
                CloseableHttpClient c = PortkeeperHttpClients.custom()
                        .poolConfig(PoolConfig.builder().name(name).maxPerEndpoint(perPool).maxTotal(perPool)
                                .portBudget(budget ? PortBudget.defaults() : PortBudget.disabled()).build())
                        .build();
                clients.add(c);
                return url -> c.execute(new HttpGet(url), r -> EntityUtils.toString(r.getEntity()));
            }
            case "httpclient": {
                PoolingHttpClientConnectionManager cm = PoolingHttpClientConnectionManagerBuilder.create()
                        .setMaxConnTotal(perPool).setMaxConnPerRoute(perPool).build();
                // Stock HttpClient with its evictor, idle limit as Portkeeper's default maxIdleTime.
                CloseableHttpClient c = HttpClients.custom().setConnectionManager(cm)
                        .evictExpiredConnections().evictIdleConnections(TimeValue.ofMinutes(2)).build();
                clients.add(c);
                return url -> c.execute(new HttpGet(url), r -> EntityUtils.toString(r.getEntity()));
            }
            case "okhttp": {
                Dispatcher d = new Dispatcher();
                d.setMaxRequests(perPool);
                d.setMaxRequestsPerHost(perPool);
                OkHttpClient c = new OkHttpClient.Builder().dispatcher(d)
                        .readTimeout(Duration.ofSeconds(60)) // the server holds each opening request 15 s
                        .connectionPool(new ConnectionPool(perPool, 2, TimeUnit.MINUTES)).build();
                clients.add(() -> {
                    c.dispatcher().executorService().shutdown();
                    c.connectionPool().evictAll();
                });
                return url -> {
                    try (Response r = c.newCall(new Request.Builder().url(url).build()).execute()) {
                        r.body().string();
                    }
                };
            }
            default:
                throw new IllegalArgumentException("client must be portkeeper, httpclient or okhttp, but was " + kind);
        }
    }

    /** {@code n} requests at once (the server holds each), so the pool opens {@code n} connections; their threads end. */
    static void openConcurrently(Fetcher f, String url, int n) throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(n);
        CountDownLatch ready = new CountDownLatch(n);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            done.add(threads.submit(() -> {
                ready.countDown();
                go.await();
                f.get(url);
                return null;
            }));
        }
        ready.await(); // every thread started: the requests overlap, so each needs its own connection
        go.countDown();
        for (Future<?> d : done) {
            d.get(120, TimeUnit.SECONDS);
        }
        threads.shutdown();
        if (!threads.awaitTermination(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("request threads did not end");
        }
    }
}
