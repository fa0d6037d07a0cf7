package io.github.portkeeper.benchmarks;

import com.sun.net.httpserver.HttpServer;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.io.entity.EntityUtils;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Portkeeper against stock HttpClient pooling in one JVM, against one embedded server (the
 * server and the clients of {@link HttpBenchmark}), in short phases that take turns: each round
 * is a phase of each client, Portkeeper first in odd rounds and stock first in even ones (ABBA),
 * so a drift of the machine falls on both alike. The ratio is taken within each round and
 * averaged geometrically, with its standard error.
 *
 * <p>Why another harness: on a small shared machine a JVM's throughput moves by ±15% from one
 * fork to the next, for either client, so one JMH fork per client measures the machine as much
 * as the clients, and a gap of a few percent takes dozens of forks to see. Here both clients see
 * the same JIT, heap and server, and a round takes seconds; 40 rounds give a standard error of
 * about half a percent. What it cannot show is each client compiled on its own, as in
 * {@link HttpBenchmark}'s forks.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * io.github.portkeeper.benchmarks.KeepAliveInTurn PHASE_SECONDS ROUNDS THREADS} (defaults 2, 40, 1).
 * The server sets {@code TCP_NODELAY} (see {@link KeepAliveSetup#server}); a JVM started with
 * {@code -Dsun.net.httpserver.nodelay} other than {@code true} is refused.
 */
public final class KeepAliveInTurn {

    private KeepAliveInTurn() {
    }

    public static void main(String[] args) throws Exception {
        int phaseSeconds = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 40;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        if (phaseSeconds < 1 || rounds < 2 || threads < 1) {
            throw new IllegalArgumentException("PHASE_SECONDS must be at least 1, ROUNDS at least 2 and THREADS at least 1, but were "
                    + phaseSeconds + ", " + rounds + ", " + threads);
        }
        ExecutorService serverThreads = KeepAliveSetup.serverThreads();
        HttpServer server = KeepAliveSetup.server(serverThreads);
        String uri = "http://127.0.0.1:" + server.getAddress().getPort() + "/hello";
        ExecutorService callers = Executors.newFixedThreadPool(threads);
        try (CloseableHttpClient portkeeper = KeepAliveSetup.portkeeper(); CloseableHttpClient stock = KeepAliveSetup.stock()) {
            // Warm-up, not counted: 30 s, the clients in turn, so the JIT has seen both.
            for (int i = 0; i < 6; i++) {
                requestsPerSecond(i % 2 == 0 ? portkeeper : stock, uri, 5, threads, callers);
            }
            double sumLog = 0;
            double sumLogSquared = 0;
            double portkeeperTotal = 0;
            double stockTotal = 0;
            int behind = 0;
            for (int r = 1; r <= rounds; r++) {
                double p;
                double s;
                if (r % 2 == 1) {
                    p = requestsPerSecond(portkeeper, uri, phaseSeconds, threads, callers);
                    s = requestsPerSecond(stock, uri, phaseSeconds, threads, callers);
                } else {
                    s = requestsPerSecond(stock, uri, phaseSeconds, threads, callers);
                    p = requestsPerSecond(portkeeper, uri, phaseSeconds, threads, callers);
                }
                double log = Math.log(p / s);
                sumLog += log;
                sumLogSquared += log * log;
                portkeeperTotal += p;
                stockTotal += s;
                behind += p < s ? 1 : 0;
                System.out.printf("round %2d  portkeeper %8.0f req/s  httpclient-default %8.0f req/s  ratio %.3f%n", r, p, s, p / s);
            }
            double mean = sumLog / rounds;
            double variance = Math.max(0, (sumLogSquared - rounds * mean * mean) / (rounds - 1));
            System.out.printf("%d thread(s), %d rounds of %d s: portkeeper %.0f req/s, httpclient-default %.0f req/s;"
                            + " portkeeper ÷ httpclient-default %.3f (geometric mean; standard error %.3f), behind in %d of %d rounds%n",
                    threads, rounds, phaseSeconds, portkeeperTotal / rounds, stockTotal / rounds, Math.exp(mean),
                    Math.exp(mean) * Math.sqrt(variance / rounds), behind, rounds);
        } finally {
            callers.shutdownNow();
            server.stop(0);
            serverThreads.shutdownNow();
        }
    }

    /** Keep-alive GETs on {@code threads} threads for {@code seconds}, reading each body: requests per second. */
    private static double requestsPerSecond(CloseableHttpClient client, String uri, int seconds, int threads, ExecutorService callers)
            throws Exception {
        long start = System.nanoTime();
        long end = start + seconds * 1_000_000_000L;
        List<Future<Long>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            done.add(callers.submit(() -> {
                long n = 0;
                while (System.nanoTime() - end < 0) {
                    client.execute(new HttpGet(uri), response -> EntityUtils.toByteArray(response.getEntity()));
                    n++;
                }
                return n;
            }));
        }
        long requests = 0;
        for (Future<Long> f : done) {
            requests += f.get();
        }
        return requests / ((System.nanoTime() - start) / 1e9);
    }
}
