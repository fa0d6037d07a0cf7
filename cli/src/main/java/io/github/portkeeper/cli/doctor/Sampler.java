package io.github.portkeeper.cli.doctor;

import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;

/**
 * Reads the socket table several times over an interval and keeps what one read cannot tell:
 * which TIME_WAIT 4-tuples are new (in TIME_WAIT now, not seen in TIME_WAIT before), and which
 * process held a 4-tuple when it was last seen ESTABLISHED (a TIME_WAIT socket has no owner).
 * State carries over between intervals, so {@code --watch} keeps attributing.
 */
final class Sampler {

    /** The TcpExt counters the doctor turns into rates. */
    static final List<String> TCP_EXT = List.of("TW", "TWKilled", "TWRecycled", "TCPTimeWaitOverflow");

    private static final Duration MIN_STEP = Duration.ofMillis(100);
    private static final Duration MAX_STEP = Duration.ofSeconds(1);
    private static final int MAX_REMEMBERED_OWNERS = 200_000;

    private final ProcFs proc;
    private final TcpTableReader reader = new TcpTableReader();
    private final SocketOwners owners;
    private LongIntMap seenTimeWait = new LongIntMap(1024);
    private final LongIntMap ownerByTuple = new LongIntMap(1024);
    private long windowStart = -1;
    private long lastRead;
    private final int[] range;

    Sampler(ProcFs proc) {
        this.proc = proc;
        this.range = Diagnoser.portRange(proc.sysctls().get("net.ipv4.ip_local_port_range"));
        this.owners = new SocketOwners(proc);
    }

    SocketOwners owners() {
        return owners;
    }

    /** What one interval gathered; the last read stands for "now". */
    static final class Interval {
        final Map<Remote, int[]> newTimeWait = new HashMap<>(); // [new, unattributed]
        final Map<Remote, Map<Integer, Integer>> attributed = new HashMap<>();
        SocketRows last;
        boolean[] listening;
        long windowNanos;
        int reads;
        Map<String, Long> countersFirst;
        Map<String, Long> countersLast;
    }

    /** A remote endpoint: address (mapped form for IPv4) and port. */
    record Remote(long hi, long lo, int port) {
        // Written out: the generated ones go through method handles, slow until compiled, and
        // they run once per socket per read.
        @Override
        public boolean equals(Object o) {
            return o instanceof Remote r && r.hi == hi && r.lo == lo && r.port == port;
        }

        @Override
        public int hashCode() {
            long h = (hi * 31 + lo) * 0x9E3779B97F4A7C15L + port;
            return (int) (h ^ (h >>> 32));
        }

        @Override
        public String toString() {
            return SocketRows.format(hi, lo, port);
        }
    }

    /** Reads the table from now until {@code interval} has passed, several times. */
    Interval run(Duration interval) throws IOException {
        long step = Math.max(MIN_STEP.toNanos(), Math.min(MAX_STEP.toNanos(), interval.toNanos() / 10));
        long start = System.nanoTime();
        long end = start + interval.toNanos();
        Interval result = new Interval();
        result.countersFirst = counters();
        LongIntMap seenThisInterval = seenTimeWait;
        long next = start;
        while (true) {
            boolean last = next >= end;
            for (long wait = next - System.nanoTime(); wait > 0; wait = next - System.nanoTime()) {
                LockSupport.parkNanos(wait);
            }
            long before = System.nanoTime();
            read(result, seenThisInterval);
            long took = System.nanoTime() - before;
            if (last) {
                break;
            }
            // A large table takes a while to read: never start a read that would run past the
            // end, so the whole interval costs its length plus one read.
            next = Math.max(next + step, System.nanoTime());
            if (next + took > end) {
                next = end;
            }
        }
        result.countersLast = counters();
        // The next interval compares with what is in TIME_WAIT now, not with all ever seen.
        LongIntMap now = new LongIntMap(1024);
        SocketRows last = result.last;
        for (int i = 0; i < last.size; i++) {
            if (last.state(i) == SocketRows.TIME_WAIT) {
                now.put(last.tupleKey(i), 1);
            }
        }
        seenTimeWait = now;
        windowStart = lastRead; // the next interval counts what is new since this read
        if (ownerByTuple.size() > MAX_REMEMBERED_OWNERS) {
            ownerByTuple.clear();
        }
        LongIntMap liveInodes = new LongIntMap(last.size);
        for (int i = 0; i < last.size; i++) {
            if (last.inodes[i] > 0) {
                liveInodes.put(last.inodes[i], 1);
            }
        }
        Set<Integer> attributable = new HashSet<>();
        ownerByTuple.forEach((tuple, pid) -> attributable.add(pid));
        owners.retainOnly(liveInodes, attributable);
        return result;
    }

    private void read(Interval result, LongIntMap seen) throws IOException {
        SocketRows rows = new SocketRows();
        long started = System.nanoTime();
        if (!reader.read(proc.tcp(), proc.tcp6(), rows)) {
            throw new IOException("neither " + proc.tcp() + " nor " + proc.tcp6() + " exists");
        }
        // The kernel writes the table as it is read: the read stands for its midpoint.
        long now = started + (System.nanoTime() - started) / 2;
        lastRead = now;
        boolean primed = windowStart >= 0;
        if (!primed) {
            windowStart = now;
        }
        boolean[] listening = new boolean[65_536];
        for (int i = 0; i < rows.size; i++) {
            if (rows.state(i) == SocketRows.LISTEN) {
                listening[rows.localPort(i)] = true;
            }
        }
        LongIntMap wanted = new LongIntMap(64);
        for (int i = 0; i < rows.size; i++) {
            int state = rows.state(i);
            if ((state == SocketRows.ESTABLISHED || state == SocketRows.CLOSE_WAIT)
                    && rows.inodes[i] > 0 && !owners.isKnown(rows.inodes[i])) {
                wanted.put(rows.inodes[i], 1);
            }
        }
        owners.resolve(wanted);
        for (int i = 0; i < rows.size; i++) {
            int state = rows.state(i);
            if (state == SocketRows.LISTEN || rows.serverSide(i, listening, range[0], range[1])) {
                continue; // server side
            }
            if (state == SocketRows.ESTABLISHED) {
                int pid = owners.owner(rows.inodes[i]);
                if (pid != SocketOwners.UNKNOWN) {
                    ownerByTuple.put(rows.tupleKey(i), pid);
                }
            } else if (state == SocketRows.TIME_WAIT) {
                long key = rows.tupleKey(i);
                if (seen.put(key, 1) && primed) {
                    Remote remote = new Remote(rows.remoteHi[i], rows.remoteLo[i], rows.remotePort(i));
                    int[] counts = result.newTimeWait.computeIfAbsent(remote, r -> new int[2]);
                    counts[0]++;
                    int pid = ownerByTuple.get(key, SocketOwners.UNKNOWN);
                    if (pid == SocketOwners.UNKNOWN) {
                        counts[1]++;
                    } else {
                        result.attributed.computeIfAbsent(remote, r -> new HashMap<>()).merge(pid, 1, Integer::sum);
                    }
                }
            }
        }
        result.last = rows;
        result.listening = listening;
        result.reads++;
        result.windowNanos = now - windowStart;
    }

    private Map<String, Long> counters() {
        Map<String, Long> values = new HashMap<>();
        put(values, "ActiveOpens", proc.counter("snmp", "Tcp", "ActiveOpens"));
        for (String name : TCP_EXT) {
            put(values, name, proc.counter("netstat", "TcpExt", name));
        }
        values.put("nanos", System.nanoTime());
        return values;
    }

    private static void put(Map<String, Long> values, String name, OptionalLong value) {
        if (value.isPresent()) {
            values.put(name, value.getAsLong());
        }
    }

    /** The TcpExt counters present, as per-second rates over the interval. */
    static Map<String, Double> rates(Interval interval, List<String> names) {
        Map<String, Double> rates = new java.util.LinkedHashMap<>();
        double seconds = (interval.countersLast.get("nanos") - interval.countersFirst.get("nanos")) / 1e9;
        for (String name : names) {
            Long a = interval.countersFirst.get(name);
            Long b = interval.countersLast.get(name);
            if (a != null && b != null && seconds > 0) {
                rates.put(name, (b - a) / seconds);
            }
        }
        return rates;
    }
}
