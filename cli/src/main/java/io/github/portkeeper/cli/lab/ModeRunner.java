package io.github.portkeeper.cli.lab;

import io.github.portkeeper.core.KernelProbe;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Runs one mode from start to finish: a fresh embedded server (or the --target), a baseline
 * snapshot, the kernel sampler, the workload, the cool-down, closing the client, the end
 * snapshot; then turns it all into a {@link ModeResult}.
 */
final class ModeRunner {

    /** How long after closing the client the end snapshot is taken, for the last FINs to cross. */
    private static final long SETTLE_MILLIS = 150;
    /** TIME_WAIT lasts 60 s on Linux: a longer mode loses its earliest ones before the end snapshot. */
    private static final long TIME_WAIT_MILLIS = 60_000;
    /** How long the cool-down goes on after the embedded server has closed every connection. */
    private static final long QUIET_NANOS = 500_000_000L;

    private final LabOptions options;
    private final KernelProbe probe;
    private final Progress progress;

    ModeRunner(LabOptions options, KernelProbe probe, PrintStream err) {
        this.options = options;
        this.probe = probe;
        this.progress = new Progress(err);
    }

    ModeResult run(Mode mode) throws IOException, InterruptedException {
        EmbeddedServer server = options.target().isPresent() ? null : EmbeddedServer.start(options.serverIdleTimeout());
        try {
            Where where = server != null ? Where.of(server) : Where.of(options.target().get());
            return run(mode, where, server);
        } finally {
            if (server != null) {
                server.close();
            }
        }
    }

    private ModeResult run(Mode mode, Where where, EmbeddedServer server) throws IOException, InterruptedException {
        boolean kernel = probe.isAvailable();
        int localPort = server != null ? server.port() : -1;
        LabClient client = create(mode, where);
        Workload workload = new Workload(client, options.requests(), options.concurrency());
        KernelSampler.Sample[] baseline = new KernelSampler.Sample[1];
        long[] origin = new long[1];
        KernelSampler sampler = new KernelSampler(kernel ? probe : null, where.addresses, localPort);
        // What was there before this mode (with --target, an earlier mode's TIME_WAIT) is subtracted.
        baseline[0] = sampler.sampleStable();
        origin[0] = System.nanoTime(); // time zero: the first request
        sampler.start();
        // Its own thread: a snapshot of thousands of sockets on busy CPUs can take longer than a tick.
        Thread ticker = new Thread(() -> {
            try {
                while (workload.done() < options.requests()) {
                    showProgress(mode, workload, origin[0], sampler.latest(), baseline[0]);
                    Thread.sleep(200);
                }
            } catch (InterruptedException stop) {
                // the mode is over
            }
        }, "lab-progress");
        ticker.setDaemon(true);
        ticker.start();
        long cooldownMillis = 0;
        long lastRequestMillis = 0;
        Workload.Outcome outcome;
        KernelSampler.Sample beforeClose = null;
        try {
            outcome = workload.run();
            lastRequestMillis = (System.nanoTime() - origin[0]) / 1_000_000;
            sampler.sampleNow(); // a point exactly at the last request, for the chart's marker
            if (mode != Mode.NAIVE) {
                cooldownMillis = coolDown(mode, client, server, workload);
            }
            if (kernel && mode != Mode.NAIVE) {
                beforeClose = sampler.sampleStable(); // the naive client holds no connection: its end sample tells
            }
        } finally {
            try {
                client.close();
            } catch (IOException | RuntimeException e) {
                // closing failed: the end snapshot shows what was left
            }
            ticker.interrupt();
            ticker.join();
            sampler.stop();
            progress.clear();
        }
        Thread.sleep(SETTLE_MILLIS);
        KernelSampler.Sample end = kernel ? sampler.sampleStable() : null;
        List<KernelSampler.Sample> samples = new ArrayList<>(sampler.samples());
        samples.sort(java.util.Comparator.comparingLong(KernelSampler.Sample::atNanos));
        long durationMillis = (System.nanoTime() - origin[0]) / 1_000_000;
        if (beforeClose == null) {
            beforeClose = end;
        }
        return result(mode, where, server, client, outcome, baseline[0], origin[0], beforeClose, end, samples,
                lastRequestMillis, cooldownMillis, durationMillis);
    }

    private LabClient create(Mode mode, Where where) {
        switch (mode) {
            case NAIVE:
                return new NaiveClient(where.addresses.get(0), where.hostHeader, where.path);
            case HTTPCLIENT:
                return new StockHttpClient(where.uri);
            default:
                return new PortkeeperClient(where.uri);
        }
    }

    /**
     * Keeps a pooled client open and idle after the last request, as a service in a lull would,
     * so the server's idle timeout can close the connections first. With the embedded server it
     * ends half a second after the server holds no connection (and the Portkeeper pool none either),
     * long enough to see which client still holds its ends in CLOSE_WAIT.
     */
    private long coolDown(Mode mode, LabClient client, EmbeddedServer server, Workload workload) throws InterruptedException {
        Duration planned = options.cooldown().orElse(server != null ? options.serverIdleTimeout().plusSeconds(1) : Duration.ZERO);
        if (planned.isZero()) {
            return 0;
        }
        long start = System.nanoTime();
        long deadline = start + planned.toNanos();
        long quietSince = -1;
        while (System.nanoTime() < deadline) {
            if (server != null && server.openConnections() == 0
                    && (!(client instanceof PortkeeperClient) || ((PortkeeperClient) client).holdsNoConnection())) {
                // The server has closed everything: stay idle a little longer, long enough to see
                // whether the client let go of its ends (a passive close) or holds them in CLOSE_WAIT.
                if (quietSince < 0) {
                    quietSince = System.nanoTime();
                } else if (System.nanoTime() - quietSince >= QUIET_NANOS) {
                    break;
                }
            }
            double left = (deadline - System.nanoTime()) / 1e9;
            progress.show(String.format(Locale.ROOT, "  %-10s %,d/%,d done; idle, waiting up to %.1f s for the server to close%s",
                    mode.label(), workload.done(), options.requests(), left,
                    server != null ? " (open: " + server.openConnections() + ")" : ""));
            Thread.sleep(20);
        }
        return (System.nanoTime() - start) / 1_000_000;
    }

    private void showProgress(Mode mode, Workload workload, long origin, KernelSampler.Sample s, KernelSampler.Sample baseline) {
        int done = workload.done();
        if (done >= options.requests()) {
            return; // the cool-down shows its own line
        }
        double seconds = (System.nanoTime() - origin) / 1e9;
        String timeWait = s == null || s.clientTimeWait() < 0 ? "?" : String.format(Locale.ROOT, "%,d",
                Math.max(0, s.clientTimeWait() - baseline.clientTimeWait()));
        progress.show(String.format(Locale.ROOT, "  %-10s %,d/%,d requests  %,.0f req/s  client TIME_WAIT %s",
                mode.label(), done, options.requests(), seconds > 0 ? done / seconds : 0.0, timeWait));
    }

    private ModeResult result(Mode mode, Where where, EmbeddedServer server, LabClient client, Workload.Outcome outcome,
                              KernelSampler.Sample baseline, long origin, KernelSampler.Sample beforeClose,
                              KernelSampler.Sample end,
                              List<KernelSampler.Sample> samples, long lastRequestMillis,
                              long cooldownMillis, long durationMillis) {
        List<String> notes = new ArrayList<>();
        boolean kernel = end != null;
        ModeResult.Peak clientTw = null;
        ModeResult.Peak serverTw = null;
        Integer closeWaitAtClose = null;
        List<ModeResult.Point> series = new ArrayList<>();
        if (kernel) {
            // A peak must hold for two samples in a row: a single read of /proc/net/tcp can list a
            // socket twice while the host's sockets churn (see KernelSampler#sampleStable); the
            // end figures, taken at rest, count too.
            int twPeak = Math.max(0, end.clientTimeWait() - baseline.clientTimeWait());
            int swPeak = Math.max(0, end.serverTimeWait() - baseline.serverTimeWait());
            KernelSampler.Sample previous = null;
            for (KernelSampler.Sample s : samples) {
                int tw = Math.max(0, s.clientTimeWait() - baseline.clientTimeWait());
                if (previous != null) {
                    twPeak = Math.max(twPeak, Math.min(tw, Math.max(0, previous.clientTimeWait() - baseline.clientTimeWait())));
                    swPeak = Math.max(swPeak, Math.min(Math.max(0, s.serverTimeWait() - baseline.serverTimeWait()),
                            Math.max(0, previous.serverTimeWait() - baseline.serverTimeWait())));
                }
                previous = s;
                series.add(new ModeResult.Point(Math.max(0, s.atNanos() - origin) / 1_000_000, tw));
            }
            series = smooth(series);
            clientTw = new ModeResult.Peak(twPeak, Math.max(0, end.clientTimeWait() - baseline.clientTimeWait()));
            if (server != null) {
                serverTw = new ModeResult.Peak(swPeak, Math.max(0, end.serverTimeWait() - baseline.serverTimeWait()));
            }
            closeWaitAtClose = Math.max(0, beforeClose.clientCloseWait() - baseline.clientCloseWait());
            if (durationMillis > TIME_WAIT_MILLIS) {
                notes.add(mode.label() + " ran " + durationMillis / 1000 + " s, longer than TIME_WAIT's 60 s: its earliest"
                        + " TIME_WAIT sockets had expired by the end, so the end counts (and what is derived from them) are low");
            }
        }
        Long clientTwCaused = kernel ? (long) clientTw.end() : null;

        Long opened;
        ModeResult.Closes closes;
        Long caused;
        Long avoided;
        int poolLimit;
        switch (mode) {
            case NAIVE: {
                NaiveClient naive = (NaiveClient) client;
                opened = naive.connectionsOpened();
                // A client stalled for longer than the server's idle timeout between a response and
                // its close (a loaded host, a GC pause) closes after the server's FIN has arrived,
                // unread: its close is passive, no TIME_WAIT here, its port free at once for another
                // connection. The client cannot see it without reading; the embedded server counts
                // every connection it closed first, and the naive client sends one request each.
                long peer = naive.closedByServer();
                if (server != null) {
                    peer = Math.max(peer, server.idleClosed());
                }
                long local = Math.max(0, naive.closedHere() - (peer - naive.closedByServer()));
                closes = new ModeResult.Closes(peer, local, naive.reset());
                // Each connection closed here first, before any FIN from the server, is a TIME_WAIT
                // caused here. The kernel may count fewer at the end: with tcp_tw_reuse it hands
                // TIME_WAIT ports to new connections, and a remote server that closes without saying
                // so may have sent its FIN just before the client's close, which then was passive.
                caused = local;
                avoided = Math.max(0, outcome.succeeded() - local);
                if (kernel && clientTw.end() < local) {
                    notes.add(String.format(Locale.ROOT, "naive: the kernel shows %,d TIME_WAIT for %,d connections closed"
                            + " first here: %,d fewer, %s", clientTw.end(), local, local - clientTw.end(),
                            server != null ? "recycled early for new connections (tcp_tw_reuse)"
                                    : "recycled early for new connections (tcp_tw_reuse) or closed by the server just"
                                            + " before the client"));
                }
                poolLimit = -1;
                break;
            }
            case HTTPCLIENT: {
                // The embedded server counts the connections it accepted; with --target, the
                // client counts the sockets it connected. Endings are counted among those.
                opened = server != null ? server.accepted() : ((StockHttpClient) client).connectionsOpened();
                if (kernel && server != null && opened != null) {
                    long peer = Math.min(serverTw.end(), opened);
                    long local = Math.min(clientTwCaused, opened - peer);
                    closes = new ModeResult.Closes(peer, local, opened - peer - local);
                } else if (kernel && opened != null) {
                    long local = Math.min(clientTwCaused, opened);
                    closes = new ModeResult.Closes(opened - local, local, null);
                    notes.add("httpclient: with a remote server a reset cannot be told from a peer close; 'peer' counts both");
                    if (clientTwCaused > opened) {
                        notes.add(String.format(Locale.ROOT, "httpclient: the kernel shows %,d new client TIME_WAIT toward"
                                + " the server for %,d connections opened: another process connects to it too", clientTwCaused,
                                opened));
                    }
                } else {
                    closes = new ModeResult.Closes(null, null, null);
                }
                caused = closes.local() != null ? closes.local() : clientTwCaused;
                avoided = caused != null ? Math.max(0, outcome.succeeded() - caused) : null;
                poolLimit = StockHttpClient.DEFAULT_MAX_PER_ROUTE;
                break;
            }
            default: {
                PortkeeperClient pk = (PortkeeperClient) client;
                // With the HTTP connector the pool counts a connection as created before HttpClient
                // connects it, so connects that fail are in connections.opened too (and end 'failed').
                long failed = pk.closedBy("failed");
                opened = pk.connectionsOpened() - failed;
                if (failed > 0) {
                    notes.add(String.format(Locale.ROOT, "portkeeper: connections.opened = %,d includes %,d connects that"
                            + " failed (closed.by=failed); connections opened leaves them out", pk.connectionsOpened(), failed));
                }
                closes = new ModeResult.Closes(pk.closedBy("peer"), pk.closedBy("local"), pk.closedBy("reset"));
                caused = pk.timeWaitCaused();
                avoided = pk.timeWaitAvoided();
                poolLimit = pk.maxPerEndpoint();
                if (kernel && Math.abs(pk.timeWaitCaused() - clientTwCaused) > Math.max(1, clientTwCaused / 100)) {
                    notes.add("portkeeper: PoolMetrics counted " + pk.timeWaitCaused() + " TIME_WAIT caused, the kernel "
                            + clientTwCaused + " (they should agree within 1%)");
                }
            }
        }
        return new ModeResult(mode, where.description, outcome, opened, closes, clientTw, serverTw, closeWaitAtClose, caused,
                avoided, poolLimit, lastRequestMillis, cooldownMillis, series, notes, where.loopback(),
                server != null);
    }

    /**
     * A running median of three: a read of /proc/net/tcp that listed a socket twice or missed some
     * while the host's sockets churned shows as a lone spike or dip, which the chart should not draw.
     */
    private static List<ModeResult.Point> smooth(List<ModeResult.Point> raw) {
        List<ModeResult.Point> out = new ArrayList<>(raw.size());
        for (int i = 0; i < raw.size(); i++) {
            if (i == 0 || i == raw.size() - 1) {
                out.add(raw.get(i));
                continue;
            }
            int a = raw.get(i - 1).clientTimeWait();
            int b = raw.get(i).clientTimeWait();
            int c = raw.get(i + 1).clientTimeWait();
            int median = Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
            out.add(new ModeResult.Point(raw.get(i).millis(), median));
        }
        return out;
    }

    /** Where a mode sends its requests. */
    private static final class Where {
        final URI uri;
        final List<InetSocketAddress> addresses;
        final String hostHeader;
        final String path;
        final String description;

        private Where(URI uri, List<InetSocketAddress> addresses, String hostHeader, String path, String description) {
            this.uri = uri;
            this.addresses = addresses;
            this.hostHeader = hostHeader;
            this.path = path;
            this.description = description;
        }

        static Where of(EmbeddedServer server) {
            InetSocketAddress a = server.address();
            String host = a.getAddress().getHostAddress() + ":" + a.getPort();
            return new Where(URI.create("http://" + host + "/lab"), List.of(a), host, "/lab", host);
        }

        static Where of(URI target) throws UnknownHostException {
            String host = target.getHost();
            int port = target.getPort() == -1 ? 80 : target.getPort();
            List<InetSocketAddress> addresses = new ArrayList<>();
            for (InetAddress a : InetAddress.getAllByName(host)) {
                addresses.add(new InetSocketAddress(a, port));
            }
            String path = target.getRawPath() == null || target.getRawPath().isEmpty() ? "/" : target.getRawPath();
            if (target.getRawQuery() != null) {
                path += "?" + target.getRawQuery();
            }
            String hostHeader = host + (target.getPort() == -1 ? "" : ":" + port);
            return new Where(target, List.copyOf(addresses), hostHeader, path, host + ":" + port);
        }

        /** Whether every address the server was resolved to is a loopback one (127.0.0.0/8, ::1). */
        boolean loopback() {
            return addresses.stream().allMatch(a -> a.getAddress() != null && a.getAddress().isLoopbackAddress());
        }
    }
}
