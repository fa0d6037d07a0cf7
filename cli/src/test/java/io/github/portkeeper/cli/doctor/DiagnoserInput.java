package io.github.portkeeper.cli.doctor;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * An interval written by hand for {@link Diagnoser}: one read of the socket table and, per
 * destination, the TIME_WAIT sockets that were new over a window of known length, so rates are
 * exact rather than timed.
 */
final class DiagnoserInput {

    final SocketRows rows = new SocketRows();
    private final Map<Sampler.Remote, int[]> fresh = new HashMap<>();
    private long inode = 1_000;

    static Sampler.Remote v4(String dotted, int port) {
        return new Sampler.Remote(0, SocketRows.mappedV4(network(dotted)), port);
    }

    /** {@code count} client sockets from 10.0.0.2 (or 127.0.0.1 toward loopback), local ports from {@code firstPort}. */
    DiagnoserInput sockets(String remote, int port, int state, int count, int firstPort) {
        String local = remote.startsWith("127.") ? "127.0.0.1" : "10.0.0.2";
        for (int i = 0; i < count; i++) {
            rows.add(0, SocketRows.mappedV4(network(local)), 0, SocketRows.mappedV4(network(remote)), firstPort + i, port,
                    state, state == SocketRows.TIME_WAIT ? 0 : inode++);
        }
        return this;
    }

    /** {@code count} of the TIME_WAIT sockets toward {@code remote} were new in the window (all unattributed). */
    DiagnoserInput newTimeWait(String remote, int port, int count) {
        fresh.put(v4(remote, port), new int[] {count, count});
        return this;
    }

    Diagnosis diagnose(ProcFs proc, Duration window) {
        Sampler.Interval interval = new Sampler.Interval();
        interval.last = rows;
        interval.listening = new boolean[65_536];
        interval.windowNanos = window.toNanos();
        interval.reads = 10;
        interval.newTimeWait.putAll(fresh);
        interval.countersFirst = Map.of("nanos", 0L);
        interval.countersLast = Map.of("nanos", window.toNanos());
        return Diagnoser.diagnose(proc, interval, new SocketOwners(proc), window);
    }

    private static int network(String dotted) {
        String[] p = dotted.split("\\.");
        return (Integer.parseInt(p[0]) << 24) | (Integer.parseInt(p[1]) << 16) | (Integer.parseInt(p[2]) << 8)
                | Integer.parseInt(p[3]);
    }
}
