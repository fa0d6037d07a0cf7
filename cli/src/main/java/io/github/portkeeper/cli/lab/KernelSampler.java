package io.github.portkeeper.cli.lab;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Takes a {@link KernelProbe} snapshot every {@link #PERIOD_MILLIS} ms on a thread of its own and
 * keeps, for one mode, the sockets toward the mode's server: client TIME_WAIT and CLOSE_WAIT, and
 * (when the server is on this host) the server's own TIME_WAIT.
 */
final class KernelSampler {

    static final long PERIOD_MILLIS = 100;

    private final KernelProbe probe;
    private final List<InetSocketAddress> server;
    private final int localServerPort;
    private final List<Sample> samples = new ArrayList<>();
    private final Thread thread;
    private volatile boolean stopped;
    private volatile Sample latest;

    /**
     * @param probe           the kernel probe, or {@code null} where there is none (samples then
     *                        carry only their time, for the progress line)
     * @param server          the addresses of the server the mode talks to
     * @param localServerPort the server's port when the server runs on this host, else -1
     */
    KernelSampler(KernelProbe probe, List<InetSocketAddress> server, int localServerPort) {
        this.probe = probe;
        this.server = List.copyOf(server);
        this.localServerPort = localServerPort;
        this.thread = new Thread(this::loop, "lab-kernel-sampler");
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /**
     * Takes three samples now and records their median, count by count. The kernel writes
     * {@code /proc/net/tcp{,6}} a page at a time and resumes each read by position within a hash
     * bucket, so while other sockets on the host come and go one read may list a socket twice or
     * miss one; the median of three is what the baseline and the end figures rest on.
     */
    Sample sampleStable() {
        Sample a = take();
        Sample b = take();
        Sample c = take();
        Sample s = new Sample(b.atNanos(), median(a.clientTimeWait(), b.clientTimeWait(), c.clientTimeWait()),
                median(a.serverTimeWait(), b.serverTimeWait(), c.serverTimeWait()),
                median(a.clientCloseWait(), b.clientCloseWait(), c.clientCloseWait()));
        synchronized (samples) {
            samples.add(s);
        }
        latest = s;
        return s;
    }

    private static int median(int a, int b, int c) {
        return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    }

    /** Takes a sample now, on the calling thread, and records it. */
    Sample sampleNow() {
        Sample s = take();
        synchronized (samples) {
            samples.add(s);
        }
        latest = s;
        return s;
    }

    /** The most recent sample, for the progress line; {@code null} before the first. */
    Sample latest() {
        return latest;
    }

    private Sample take() {
        if (probe == null) {
            return new Sample(System.nanoTime(), -1, -1, -1);
        }
        SocketTable t = probe.snapshot();
        return new Sample(System.nanoTime(),
                t.countToRemotes(TcpState.TIME_WAIT, server),
                localServerPort < 0 ? -1 : t.countOnLocalPort(TcpState.TIME_WAIT, localServerPort),
                t.countToRemotes(TcpState.CLOSE_WAIT, server));
    }

    /** The samples so far, oldest first. */
    List<Sample> samples() {
        synchronized (samples) {
            return List.copyOf(samples);
        }
    }

    /** Stops the sampler thread and waits for it. */
    void stop() throws InterruptedException {
        stopped = true;
        thread.interrupt();
        thread.join(5_000);
    }

    private void loop() {
        long next = System.nanoTime();
        while (!stopped) {
            try {
                sampleNow();
            } catch (RuntimeException e) {
                return; // the probe failed (say /proc vanished): the mode's figures will show it
            }
            next += PERIOD_MILLIS * 1_000_000;
            long sleep = (next - System.nanoTime()) / 1_000_000;
            if (sleep > 0) {
                try {
                    Thread.sleep(sleep);
                } catch (InterruptedException e) {
                    return;
                }
            } else {
                next = System.nanoTime();
            }
        }
    }

    /**
     * One snapshot's counts toward the mode's server.
     *
     * @param atNanos         {@link System#nanoTime()} when it was taken
     * @param clientTimeWait  client-side TIME_WAIT sockets toward the server
     * @param serverTimeWait  the server's TIME_WAIT sockets, -1 when the server is not on this host
     * @param clientCloseWait client-side CLOSE_WAIT sockets toward the server
     */
    record Sample(long atNanos, int clientTimeWait, int serverTimeWait, int clientCloseWait) {
    }
}
