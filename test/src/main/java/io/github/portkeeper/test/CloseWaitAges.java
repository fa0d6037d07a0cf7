package io.github.portkeeper.test;

import io.github.portkeeper.core.TcpState;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Samples the kernel while a workload runs and keeps how long the oldest client CLOSE_WAIT
 * toward a server lasted: the proof that a client answers a server's close promptly, not only
 * that none is left at the end. Each client socket is followed by its local port from sample to
 * sample, so an age is a lower bound rounded down to the sampling interval; a CLOSE_WAIT shorter
 * than one interval may go unseen.
 *
 * <pre>{@code
 * try (CloseWaitAges ages = CloseWaitAges.sample(server, Duration.ofMillis(50))) {
 *     runWorkload();
 *     assertThat(ages.oldest()).isLessThan(Duration.ofSeconds(2));
 * }
 * }</pre>
 *
 * <p>Thread-safety: the figures may be read from any thread while sampling runs.
 */
public final class CloseWaitAges implements AutoCloseable {

    private final InetSocketAddress server;
    private final ScheduledExecutorService sampler;
    /** Touched only by the sampler's thread. */
    private final Map<Integer, Long> since = new HashMap<>();
    private volatile long oldestNanos;
    private volatile int peak;
    private volatile int samples;

    private CloseWaitAges(InetSocketAddress server, Duration interval) {
        this.server = server;
        this.sampler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "close-wait-ages");
            t.setDaemon(true);
            return t;
        });
        sampler.scheduleAtFixedRate(this::sampleOnce, 0, interval.toNanos(), TimeUnit.NANOSECONDS);
    }

    /**
     * Starts sampling the client sockets toward {@code server} every {@code interval}.
     *
     * @param server   the server's resolved address and port
     * @param interval time between samples, positive
     * @return the running sampler; close it to stop
     * @throws IllegalArgumentException if {@code interval} is not positive
     * @throws org.opentest4j.TestAbortedException where the kernel cannot be asked (the test is skipped)
     */
    public static CloseWaitAges sample(InetSocketAddress server, Duration interval) {
        if (interval == null || interval.isZero() || interval.isNegative()) {
            throw new IllegalArgumentException("interval must be positive, but was " + interval);
        }
        Kernel.assumeLinux();
        return new CloseWaitAges(server, interval);
    }

    private void sampleOnce() {
        long now = System.nanoTime();
        Set<Integer> closeWait = Kernel.clientPorts(server, TcpState.CLOSE_WAIT);
        since.keySet().retainAll(closeWait);
        long oldest = oldestNanos;
        for (Integer port : closeWait) {
            oldest = Math.max(oldest, now - since.computeIfAbsent(port, p -> now));
        }
        oldestNanos = oldest;
        peak = Math.max(peak, closeWait.size());
        samples++;
    }

    /**
     * How long the oldest CLOSE_WAIT seen so far lasted (still lasts, if it has not ended).
     *
     * @return zero if none was seen in two samples or more
     */
    public Duration oldest() {
        return Duration.ofNanos(oldestNanos);
    }

    /**
     * The most client CLOSE_WAIT sockets toward the server seen in one sample.
     *
     * @return the peak count
     */
    public int peak() {
        return peak;
    }

    /**
     * How many samples were taken, to check that sampling ran over the workload at all.
     *
     * @return the count
     */
    public int samples() {
        return samples;
    }

    /**
     * Stops sampling; the figures stay readable.
     *
     * @throws IllegalStateException if the sampler does not stop within 10 s, or the wait is interrupted
     */
    @Override
    public void close() {
        sampler.shutdown();
        try {
            if (!sampler.awaitTermination(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("CLOSE_WAIT sampler did not stop within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while stopping the CLOSE_WAIT sampler", e);
        }
    }

    @Override
    public String toString() {
        return "CloseWaitAges[" + server + ", oldest " + oldest().toMillis() + " ms, peak " + peak + ", " + samples + " samples]";
    }
}
