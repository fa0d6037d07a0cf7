package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.http.PortkeeperHttpClients;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.http.io.entity.EntityUtils;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Connection churn, Portkeeper beside stock HttpClient 5 in the same run: the server (a child
 * process) closes every connection after {@code K} responses ({@code Connection: close}, the
 * server closing first), so every {@code K} requests cost a new connection. Reports requests
 * per second and new connections per second (counted by the server) for each client, rounds
 * alternating between them, and Portkeeper's ratio to stock. Portkeeper runs with its default
 * port budget (kernel counting on).
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar io.github.portkeeper.benchmarks.ChurnCost SECONDS THREADS ROUNDS}
 */
public final class ChurnCost {

    private ChurnCost() {
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        Process server = BenchServer.spawn();
        try {
            String base = "http://127.0.0.1:" + BenchServer.port(server);
            CloseableHttpClient stock = HttpClients.custom().setConnectionManager(PoolingHttpClientConnectionManagerBuilder.create()
                    .setMaxConnTotal(threads).setMaxConnPerRoute(threads).build()).build();
            CloseableHttpClient portkeeper = PortkeeperHttpClients.custom().poolConfig(PoolConfig.builder().name("churn")
                    .maxPerEndpoint(threads).maxTotal(threads).portBudget(PortBudget.defaults()).build()).build();
            for (int k : new int[] {1, 10}) {
                double[] stockRates = new double[2];
                double[] pkRates = new double[2];
                // Warm-up of both, not counted.
                run(stock, base, k, threads, 1);
                run(portkeeper, base, k, threads, 1);
                for (int r = 0; r < rounds; r++) {
                    double[] s = run(stock, base, k, threads, seconds);
                    double[] p = run(portkeeper, base, k, threads, seconds);
                    System.out.printf("K=%d round %d: httpclient %.0f req/s %.0f conn/s | portkeeper %.0f req/s %.0f conn/s%n",
                            k, r + 1, s[0], s[1], p[0], p[1]);
                    for (int i = 0; i < 2; i++) {
                        stockRates[i] += s[i] / rounds;
                        pkRates[i] += p[i] / rounds;
                    }
                }
                System.out.printf("| %d | %.0f | %.0f | %.0f | %.0f | %.2f× |%n", k, stockRates[0], stockRates[1],
                        pkRates[0], pkRates[1], pkRates[1] / stockRates[1]);
            }
            stock.close();
            portkeeper.close();
        } finally {
            server.destroy();
            server.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /** Requests per second and new connections per second over {@code seconds}. */
    private static double[] run(CloseableHttpClient client, String base, int k, int threads, int seconds) throws Exception {
        long connectionsBefore = connections(client, base);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong requests = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        String url = base + "/?close=" + k;
        for (int t = 0; t < threads; t++) {
            done.add(pool.submit(() -> {
                go.await();
                while (!stop.get()) {
                    client.execute(new HttpGet(url), r -> EntityUtils.toString(r.getEntity()));
                    requests.incrementAndGet();
                }
                return null;
            }));
        }
        long t0 = System.nanoTime();
        go.countDown();
        Thread.sleep(seconds * 1000L);
        stop.set(true);
        for (Future<?> f : done) {
            f.get(30, TimeUnit.SECONDS);
        }
        double elapsed = (System.nanoTime() - t0) / 1e9;
        pool.shutdown();
        long opened = connections(client, base) - connectionsBefore - 1; // the count request's own, if new
        return new double[] {requests.get() / elapsed, Math.max(0, opened) / elapsed};
    }

    /** Connections the server has accepted so far. */
    private static long connections(CloseableHttpClient client, String base) throws Exception {
        return Long.parseLong(client.execute(new HttpGet(base + "/connections?close=1"), r -> EntityUtils.toString(r.getEntity())));
    }
}
