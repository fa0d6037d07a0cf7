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
 * per second and new connections per second (counted by the server) for each client, and
 * Portkeeper's ratio to stock taken within each round and averaged geometrically, with its
 * standard error. The clients take turns ABBA (stock first in odd rounds, Portkeeper first in
 * even ones), after {@value #WARMUP_ROUNDS} uncounted rounds in the same order, so neither
 * always runs in the same place. Portkeeper runs with its default port budget (kernel counting
 * on).
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar io.github.portkeeper.benchmarks.ChurnCost SECONDS THREADS ROUNDS}
 * (defaults 5, 4, 4; ROUNDS even)
 */
public final class ChurnCost {

    /** Warm-up rounds per K, not counted: both clients in turn, as in the measured rounds. */
    private static final int WARMUP_ROUNDS = 4;

    private ChurnCost() {
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        if (seconds < 1 || threads < 1 || rounds < 2 || rounds % 2 != 0) {
            throw new IllegalArgumentException("SECONDS and THREADS must be at least 1 and ROUNDS an even number of at least 2"
                    + " (each client first in half of them), but were " + seconds + ", " + threads + ", " + rounds);
        }
        Process server = BenchServer.spawn();
        try {
            String base = "http://127.0.0.1:" + BenchServer.port(server);
            CloseableHttpClient stock = HttpClients.custom().setConnectionManager(PoolingHttpClientConnectionManagerBuilder.create()
                    .setMaxConnTotal(threads).setMaxConnPerRoute(threads).build()).build();
            CloseableHttpClient portkeeper = PortkeeperHttpClients.custom().poolConfig(PoolConfig.builder().name("churn")
                    .maxPerEndpoint(threads).maxTotal(threads).portBudget(PortBudget.defaults()).build()).build();
            for (int k : new int[] {1, 10}) {
                // Warm-up, not counted: WARMUP_ROUNDS rounds in turn, as the measured ones.
                for (int r = 1; r <= WARMUP_ROUNDS; r++) {
                    for (CloseableHttpClient client : portkeeperFirst(r) ? List.of(portkeeper, stock) : List.of(stock, portkeeper)) {
                        run(client, base, k, threads, seconds);
                    }
                }
                double[] stockRates = new double[2];
                double[] pkRates = new double[2];
                double[] logRatio = new double[2];
                double[] logRatioSquared = new double[2];
                int behind = 0;
                for (int r = 1; r <= rounds; r++) {
                    double[] s;
                    double[] p;
                    if (portkeeperFirst(r)) {
                        p = run(portkeeper, base, k, threads, seconds);
                        s = run(stock, base, k, threads, seconds);
                    } else {
                        s = run(stock, base, k, threads, seconds);
                        p = run(portkeeper, base, k, threads, seconds);
                    }
                    System.out.printf("K=%d round %d (%s first): httpclient %.0f req/s %.0f conn/s | portkeeper %.0f req/s %.0f conn/s"
                                    + " | ratio %.3f req/s, %.3f conn/s%n",
                            k, r, portkeeperFirst(r) ? "portkeeper" : "httpclient", s[0], s[1], p[0], p[1], p[0] / s[0], p[1] / s[1]);
                    for (int i = 0; i < 2; i++) {
                        stockRates[i] += s[i] / rounds;
                        pkRates[i] += p[i] / rounds;
                        double log = Math.log(p[i] / s[i]);
                        logRatio[i] += log;
                        logRatioSquared[i] += log * log;
                    }
                    behind += p[1] < s[1] ? 1 : 0;
                }
                double[] ratio = new double[2];
                double[] error = new double[2];
                for (int i = 0; i < 2; i++) {
                    double mean = logRatio[i] / rounds;
                    double variance = Math.max(0, (logRatioSquared[i] - rounds * mean * mean) / (rounds - 1));
                    ratio[i] = Math.exp(mean);
                    error[i] = ratio[i] * Math.sqrt(variance / rounds);
                }
                System.out.printf("K=%d: Portkeeper ÷ stock, within each round, geometric mean (standard error): %.3f (%.3f) req/s,"
                        + " %.3f (%.3f) new conn/s; behind in new conn/s in %d of %d rounds%n", k, ratio[0], error[0], ratio[1], error[1],
                        behind, rounds);
                System.out.printf("| %d | %.0f | %.0f | %.0f | %.0f | %.2f× (%.2f) |%n", k, stockRates[0], stockRates[1],
                        pkRates[0], pkRates[1], ratio[1], error[1]);
            }
            stock.close();
            portkeeper.close();
        } finally {
            server.destroy();
            server.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /**
     * Whether Portkeeper runs first in round {@code round} (from 1): the rounds go ABBA (stock
     * first, then Portkeeper first, and so on), so over an even number of rounds each client
     * runs first, and right after the other, equally often.
     */
    static boolean portkeeperFirst(int round) {
        return round % 2 == 0;
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
