package io.github.portkeeper.okhttp.testing;

import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.test.Kernel;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

import javax.net.ssl.SSLHandshakeException;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * After one unmeasured warm-up burst and gap, bursts of requests from many threads separated by
 * idle gaps longer than the server's idle timeout, with the kernel sampled every 50 ms throughout: peak client TIME_WAIT, peak CLOSE_WAIT
 * and the age of the oldest CLOSE_WAIT socket (first to last sample that saw it).
 */
public final class Workload {

    /** What one run did and what the kernel showed. */
    public record Result(int requests, int failed, int handshakeRetries, int peakTimeWait, int peakCloseWait, long oldestCloseWaitMillis) {
    }

    private final int threads;
    private final int requests;
    private final int bursts;
    private final long gapMillis;

    public Workload(int threads, int requests, int bursts, long gapMillis) {
        this.threads = threads;
        this.requests = requests;
        this.bursts = bursts;
        this.gapMillis = gapMillis;
    }

    public Result run(OkHttpClient client, String url, InetSocketAddress server) throws Exception {
        warmUp(client, url);
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger handshakeRetries = new AtomicInteger();
        AtomicInteger peakTimeWait = new AtomicInteger();
        AtomicInteger peakCloseWait = new AtomicInteger();
        AtomicLong oldestCloseWait = new AtomicLong();
        Map<Integer, Long> closeWaitSince = new HashMap<>();
        ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        sampler.scheduleAtFixedRate(() -> {
            long now = System.nanoTime();
            peakTimeWait.accumulateAndGet(Kernel.clientTimeWait(server), Math::max);
            Set<Integer> closeWait = Kernel.clientPorts(server, TcpState.CLOSE_WAIT);
            peakCloseWait.accumulateAndGet(closeWait.size(), Math::max);
            closeWaitSince.keySet().retainAll(closeWait);
            for (Integer port : closeWait) {
                long since = closeWaitSince.computeIfAbsent(port, p -> now);
                oldestCloseWait.accumulateAndGet(TimeUnit.NANOSECONDS.toMillis(now - since), Math::max);
            }
        }, 0, 50, TimeUnit.MILLISECONDS);
        try {
            int perBurst = requests / bursts;
            for (int b = 0; b < bursts; b++) {
                int n = b == bursts - 1 ? requests - perBurst * (bursts - 1) : perBurst;
                Future<?>[] calls = new Future<?>[n];
                for (int i = 0; i < n; i++) {
                    calls[i] = pool.submit(() -> get(client, url, failed, handshakeRetries));
                }
                for (Future<?> f : calls) {
                    f.get(60, TimeUnit.SECONDS);
                }
                // The workload's idle gap (its shape, not a synchronisation): idle connections
                // outlive the server's idle timeout, so the server closes them.
                Thread.sleep(gapMillis);
            }
        } finally {
            pool.shutdownNow();
            sampler.shutdown();
            sampler.awaitTermination(10, TimeUnit.SECONDS);
        }
        return new Result(requests, failed.get(), handshakeRetries.get(), peakTimeWait.get(), peakCloseWait.get(), oldestCloseWait.get());
    }

    /** A burst and a gap before measuring: the steady state of a running service, not its first second. */
    private void warmUp(OkHttpClient client, String url) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            Future<?>[] calls = new Future<?>[threads * 2];
            AtomicInteger ignored = new AtomicInteger();
            for (int i = 0; i < calls.length; i++) {
                calls[i] = pool.submit(() -> get(client, url, ignored, ignored));
            }
            for (Future<?> f : calls) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        Thread.sleep(gapMillis); // the workload's idle gap, as below
    }

    /**
     * One GET. A TLS handshake the server cut short is tried once more and counted apart: the
     * server's 1 s idle timeout also bounds its handshakes, which a CPU-starved test machine
     * can exceed for stock and Portkeeper sockets alike; it says nothing about how connections
     * close.
     */
    private static void get(OkHttpClient client, String url, AtomicInteger failed, AtomicInteger handshakeRetries) {
        for (int attempt = 0; ; attempt++) {
            try (Response r = client.newCall(new Request.Builder().url(url).build()).execute()) {
                if (!r.isSuccessful() || r.body().string().isEmpty()) {
                    failed.incrementAndGet();
                }
                return;
            } catch (SSLHandshakeException e) {
                if (attempt == 0 && e.getCause() instanceof EOFException) {
                    handshakeRetries.incrementAndGet();
                    continue;
                }
                fail(failed, e);
                return;
            } catch (IOException | RuntimeException e) {
                fail(failed, e);
                return;
            }
        }
    }

    private static void fail(AtomicInteger failed, Exception e) {
        if (failed.incrementAndGet() <= 3) {
            System.out.println("request failed: " + e + (e.getCause() == null ? "" : " caused by " + e.getCause()));
        }
    }
}
