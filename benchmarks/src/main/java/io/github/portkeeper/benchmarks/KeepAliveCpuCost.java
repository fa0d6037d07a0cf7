package io.github.portkeeper.benchmarks;

import com.sun.management.OperatingSystemMXBean;
import okhttp3.ConnectionPool;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.io.entity.EntityUtils;

import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Keep-alive GETs, the four pooled clients of {@link HttpBenchmark}, measured by the CPU time
 * each request costs rather than by throughput alone: on a small shared machine throughput moves
 * with whatever else runs, while the CPU time a request takes (of the client's JVM, and of the
 * server's, which runs in a child process so the two can be told apart) moves much less. Rounds
 * alternate between the clients, so a change in the machine's load falls on all of them alike,
 * and each round starts with the next client, so none always runs in the same place.
 * Warm-up is two passes over the clients, so that no client's first counted round still pays
 * for code the JIT compiled for another's types.
 * Reports, per round and client: requests per second, client CPU µs per request, server CPU µs
 * per request; then each client's mean over the rounds.
 *
 * <p>The four clients share one JVM, so the JIT sees all of them (as it would in an application
 * that used several); {@link HttpBenchmark} gives each its own fork.
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar io.github.portkeeper.benchmarks.KeepAliveCpuCost SECONDS THREADS ROUNDS}
 */
public final class KeepAliveCpuCost {

    private static final String[] CLIENTS = {"portkeeper", "httpclient-default", "okhttp", "jdk"};

    private KeepAliveCpuCost() {
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 16;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        Process server = BenchServer.spawn();
        try {
            String uri = "http://127.0.0.1:" + BenchServer.port(server) + "/hello";
            List<Callable<Object>> gets = new ArrayList<>();
            CloseableHttpClient portkeeper = KeepAliveSetup.portkeeper();
            CloseableHttpClient stock = KeepAliveSetup.stock();
            OkHttpClient okhttp = new OkHttpClient.Builder().connectionPool(new ConnectionPool(KeepAliveSetup.MAX_CONNECTIONS, 5, TimeUnit.MINUTES)).build();
            Request okRequest = new Request.Builder().url(uri).build();
            java.net.http.HttpClient jdk = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build();
            java.net.http.HttpRequest jdkRequest = java.net.http.HttpRequest.newBuilder(URI.create(uri)).build();
            gets.add(() -> portkeeper.execute(new HttpGet(uri), r -> EntityUtils.toByteArray(r.getEntity())));
            gets.add(() -> stock.execute(new HttpGet(uri), r -> EntityUtils.toByteArray(r.getEntity())));
            gets.add(() -> {
                try (Response r = okhttp.newCall(okRequest).execute()) {
                    return r.body().bytes();
                }
            });
            gets.add(() -> jdk.send(jdkRequest, java.net.http.HttpResponse.BodyHandlers.ofByteArray()).body());
            long pid = server.pid();
            // Warm-up, not counted: two passes, so that every client has run after every other
            // one before a round counts. The clients share HttpClient's classes, and code the JIT
            // compiled for one client's types is recompiled once another's pass through them; with
            // one pass the first counted run (Portkeeper's, after the JDK client's) paid for that.
            for (int pass = 0; pass < 2; pass++) {
                for (int c = 0; c < CLIENTS.length; c++) {
                    run(gets.get(c), threads, seconds * 2, pid);
                }
            }
            double[][] sums = new double[CLIENTS.length][3];
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < CLIENTS.length; k++) {
                    // Each round starts one client later, so no client always follows the same
                    // one (the first counted run follows the JDK client's warm-up, its heaviest).
                    int c = (r + k) % CLIENTS.length;
                    double[] m = run(gets.get(c), threads, seconds, pid);
                    System.out.printf("round %d %-18s %8.0f req/s  client %6.1f µs/req  server %6.1f µs/req%n",
                            r + 1, CLIENTS[c], m[0], m[1], m[2]);
                    for (int i = 0; i < 3; i++) {
                        sums[c][i] += m[i] / rounds;
                    }
                }
            }
            System.out.println("| client | req/s | client CPU µs/req | server CPU µs/req |");
            for (int c = 0; c < CLIENTS.length; c++) {
                System.out.printf("| `%s` | %.0f | %.1f | %.1f |%n", CLIENTS[c], sums[c][0], sums[c][1], sums[c][2]);
            }
            portkeeper.close();
            stock.close();
            okhttp.dispatcher().executorService().shutdown();
            okhttp.connectionPool().evictAll();
        } finally {
            server.destroy();
            server.waitFor(5, TimeUnit.SECONDS);
        }
    }

    /** Requests per second, client CPU µs per request and server CPU µs per request over {@code seconds}. */
    private static double[] run(Callable<Object> get, int threads, int seconds, long serverPid) throws Exception {
        OperatingSystemMXBean os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong requests = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            done.add(pool.submit(() -> {
                go.await();
                while (!stop.get()) {
                    get.call();
                    requests.incrementAndGet();
                }
                return null;
            }));
        }
        long cpu0 = os.getProcessCpuTime();
        long server0 = ticks(serverPid);
        long t0 = System.nanoTime();
        go.countDown();
        Thread.sleep(seconds * 1000L);
        stop.set(true);
        for (Future<?> f : done) {
            f.get(30, TimeUnit.SECONDS);
        }
        double elapsed = (System.nanoTime() - t0) / 1e9;
        long n = requests.get();
        double clientMicros = (os.getProcessCpuTime() - cpu0) / 1e3;
        double serverMicros = (ticks(serverPid) - server0) * 1e6 / 100; // USER_HZ is 100 on Linux
        pool.shutdown();
        return new double[] {n / elapsed, clientMicros / n, serverMicros / n};
    }

    /** User plus system CPU time of a process, in clock ticks ({@code /proc/PID/stat} fields 14 and 15). */
    private static long ticks(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }
}
