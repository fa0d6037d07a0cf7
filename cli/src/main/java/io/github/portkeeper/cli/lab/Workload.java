package io.github.portkeeper.cli.lab;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Fires {@code requests} GETs through one {@link LabClient} from {@code concurrency} threads, as
 * fast as they go, and records each request's latency and, for failures, its cause.
 */
final class Workload {

    private final LabClient client;
    private final int requests;
    private final int concurrency;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger done = new AtomicInteger();
    private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    /** Latency of request i in nanoseconds, or -1 if it failed; each slot written by one thread. */
    private final long[] latencies;
    private volatile long startNanos;

    Workload(LabClient client, int requests, int concurrency) {
        this.client = client;
        this.requests = requests;
        this.concurrency = concurrency;
        this.latencies = new long[requests];
        Arrays.fill(latencies, -1);
    }

    /** Requests finished so far, succeeded or failed; safe to read from any thread. */
    int done() {
        return done.get();
    }

    /** Runs every request and returns the outcome. */
    Outcome run() throws InterruptedException {
        List<Thread> threads = new ArrayList<>();
        startNanos = System.nanoTime();
        for (int t = 0; t < Math.min(concurrency, requests); t++) {
            Thread thread = new Thread(this::work, "lab-client-" + t);
            thread.setDaemon(true);
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        long elapsed = System.nanoTime() - startNanos;
        long[] ok = Arrays.stream(latencies).filter(l -> l >= 0).sorted().toArray();
        Map<String, Long> byCause = new LinkedHashMap<>();
        errors.entrySet().stream()
                .sorted((a, b) -> Long.compare(b.getValue().sum(), a.getValue().sum()))
                .forEach(e -> byCause.put(e.getKey(), e.getValue().sum()));
        return new Outcome(requests, ok.length, requests - ok.length, byCause, elapsed, percentile(ok, 50), percentile(ok, 99));
    }

    private void work() {
        int i;
        while ((i = next.getAndIncrement()) < requests) {
            long t0 = System.nanoTime();
            try {
                client.get();
                latencies[i] = System.nanoTime() - t0;
            } catch (Exception e) {
                errors.computeIfAbsent(Failures.causeOf(e), k -> new LongAdder()).increment();
            }
            done.incrementAndGet();
        }
    }

    /** Nearest-rank percentile in microseconds; -1 when there is no sample. */
    private static long percentile(long[] sortedNanos, int p) {
        if (sortedNanos.length == 0) {
            return -1;
        }
        int rank = (int) Math.ceil(p / 100.0 * sortedNanos.length);
        return sortedNanos[Math.max(0, rank - 1)] / 1_000;
    }

    /**
     * What a run did.
     *
     * @param requests    requests fired
     * @param succeeded   requests answered with a status below 400
     * @param failed      requests that failed
     * @param errors      failures by cause, most frequent first
     * @param elapsedNanos wall time from the first request to the last answer
     * @param p50Micros   median latency of the successful requests, -1 if none
     * @param p99Micros   99th percentile latency of the successful requests, -1 if none
     */
    record Outcome(int requests, int succeeded, int failed, Map<String, Long> errors, long elapsedNanos,
                   long p50Micros, long p99Micros) {

        double requestsPerSecond() {
            return elapsedNanos <= 0 ? 0 : succeeded * 1e9 / elapsedNanos;
        }
    }
}
