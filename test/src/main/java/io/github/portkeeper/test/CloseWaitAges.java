package io.github.portkeeper.test;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.TcpState;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
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
 * <p>If a sample fails (the kernel's tables cannot be read), sampling stops and the failure is
 * kept: {@link #oldest()}, {@link #peak()} and {@link #close()} throw it rather than report
 * figures that stopped short of the workload.
 *
 * <p>Thread-safety: the figures may be read from any thread while sampling runs.
 */
public final class CloseWaitAges implements AutoCloseable {

    private final InetSocketAddress server;
    private final KernelProbe probe;
    private final ScheduledExecutorService sampler;
    /** Touched only by the sampler's thread. */
    private final Map<Integer, Long> since = new HashMap<>();
    private volatile long oldestNanos;
    private volatile int peak;
    private volatile int samples;
    /** What stopped the sampler, if a sample failed. */
    private volatile Throwable failure;

    private CloseWaitAges(InetSocketAddress server, Duration interval, KernelProbe probe) {
        this.server = server;
        this.probe = probe;
        this.sampler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "close-wait-ages");
            t.setDaemon(true);
            return t;
        });
        sampler.scheduleAtFixedRate(this::sampleOnce, 0, nanosSaturated(interval), TimeUnit.NANOSECONDS);
    }

    /** An interval past the nanosecond clock (about 292 years) means one sample, not a failure. */
    private static long nanosSaturated(Duration interval) {
        try {
            return interval.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /**
     * Starts sampling the client sockets toward {@code server} every {@code interval}.
     *
     * @param server   the server's resolved address and port
     * @param interval time between samples, positive
     * @return the running sampler; close it to stop
     * @throws NullPointerException {@code "server"}, if {@code server} is {@code null}
     * @throws IllegalArgumentException if {@code server} is unresolved
     *         ({@code "server must be resolved, but was localhost/<unresolved>:8080"}) or a
     *         wildcard address such as {@code 0.0.0.0} (no client connects to one, so there would
     *         be nothing to sample), or
     *         {@code interval} is not positive ({@code "interval must be positive, but was PT0S"},
     *         also for {@code null})
     * @throws org.opentest4j.TestAbortedException where the kernel cannot be asked (the test is skipped)
     */
    public static CloseWaitAges sample(InetSocketAddress server, Duration interval) {
        checkArguments(server, interval);
        Kernel.assumeLinux();
        return new CloseWaitAges(server, interval, Kernel.probe());
    }

    /** As {@link #sample(InetSocketAddress, Duration)}, reading the tables {@code probe} reads. */
    static CloseWaitAges sample(InetSocketAddress server, Duration interval, KernelProbe probe) {
        checkArguments(server, interval);
        return new CloseWaitAges(server, interval, Objects.requireNonNull(probe, "probe"));
    }

    /** Refused here, not in the first sample: the sampler's thread has no one to tell. */
    private static void checkArguments(InetSocketAddress server, Duration interval) {
        Kernel.requireConnectable(server);
        if (interval == null || interval.isZero() || interval.isNegative()) {
            throw new IllegalArgumentException("interval must be positive, but was " + interval);
        }
    }

    private void sampleOnce() {
        try {
            long now = System.nanoTime();
            Set<Integer> closeWait = probe.snapshot().localPortsToRemote(TcpState.CLOSE_WAIT, server);
            since.keySet().retainAll(closeWait);
            long oldest = oldestNanos;
            for (Integer port : closeWait) {
                oldest = Math.max(oldest, now - since.computeIfAbsent(port, p -> now));
            }
            oldestNanos = oldest;
            peak = Math.max(peak, closeWait.size());
            samples++;
        } catch (RuntimeException | Error e) {
            failure = e;
            throw e; // no further samples: the executor drops a periodic task that throws
        }
    }

    /** Throws the sampler's failure, if it had one, in a new exception for this caller's stack. */
    private void checkSampling() {
        Throwable f = failure;
        if (f != null) {
            throw new IllegalStateException("CLOSE_WAIT sampling toward " + server + " failed after " + samples
                    + " samples, so its figures stop there: " + f, f);
        }
    }

    /**
     * How long the oldest CLOSE_WAIT seen so far lasted (still lasts, if it has not ended).
     *
     * @return zero if none was seen in two samples or more
     * @throws IllegalStateException if a sample failed (the cause), and sampling stopped there
     */
    public Duration oldest() {
        checkSampling();
        return Duration.ofNanos(oldestNanos);
    }

    /**
     * The most client CLOSE_WAIT sockets toward the server seen in one sample.
     *
     * @return the peak count
     * @throws IllegalStateException if a sample failed (the cause), and sampling stopped there
     */
    public int peak() {
        checkSampling();
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
     * @throws IllegalStateException if a sample failed (the cause), if the sampler does not stop
     *         within 10 s, or if the wait is interrupted
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
        checkSampling();
    }

    @Override
    public String toString() {
        return "CloseWaitAges[" + server + ", oldest " + Duration.ofNanos(oldestNanos).toMillis() + " ms, peak " + peak + ", "
                + samples + " samples" + (failure != null ? ", failed: " + failure : "") + "]";
    }
}
