package io.github.portkeeper.cli.doctor;

import io.github.portkeeper.cli.doctor.Diagnosis.Destination;
import io.github.portkeeper.cli.doctor.Diagnosis.Host;
import io.github.portkeeper.cli.doctor.Diagnosis.Listener;
import io.github.portkeeper.cli.doctor.Diagnosis.Owner;
import io.github.portkeeper.cli.doctor.Diagnosis.Verdict;
import io.github.portkeeper.cli.doctor.Sampler.Remote;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns one {@link Sampler.Interval} into a {@link Diagnosis}: counts by destination and
 * listening port from the last read, rates from the whole interval, ports left against
 * {@code ip_local_port_range}, and the verdict.
 *
 * <p>The arithmetic: a client that closes first holds each 4-tuple in TIME_WAIT for 60 s, so at
 * a steady rate of {@code r} new connections per second toward one destination it holds
 * {@code 60 r} ports in TIME_WAIT. When that, plus the sockets it keeps open, reaches the range
 * (28,232 ports by default, so about 470/s), {@code connect()} will fail; the time left is then
 * the ports left divided by the rate (a lower bound: TIME_WAIT sockets that expire meanwhile
 * free some ports). Below that the rate is sustainable and there is no time to exhaustion.
 *
 * <p>Two kernel settings change the sums. Ports of {@code ip_local_reserved_ports} are never
 * picked by {@code connect()}: they are left out of the range. And with {@code tcp_tw_reuse} 1
 * (any destination) or 2 (the default: loopback only) and timestamps on, {@code connect()}
 * reuses a 4-tuple whose TIME_WAIT is more than a second old (the kernel compares whole
 * seconds: 1 to 2 s): toward such a destination only the last {@link #REUSE_SECONDS} of
 * TIME_WAIT hold ports, and the rest are left.
 */
final class Diagnoser {

    /** TIME_WAIT lasts TCP_TIMEWAIT_LEN, 60 s, whatever the sysctls say. */
    static final double TIME_WAIT_SECONDS = 60;
    static final int DEFAULT_PORT_LOW = 32_768;
    static final int DEFAULT_PORT_HIGH = 60_999;
    /** How long a TIME_WAIT 4-tuple stays unusable under tcp_tw_reuse, at most: 1 to 2 s. */
    static final double REUSE_SECONDS = 2;

    private Diagnoser() {
    }

    static Diagnosis diagnose(ProcFs proc, Sampler.Interval interval, SocketOwners owners, Duration asked) {
        Map<String, String> sysctls = proc.sysctls();
        int[] range = portRange(sysctls.get("net.ipv4.ip_local_port_range"));
        BitSet reserved = reservedPorts(sysctls.get("net.ipv4.ip_local_reserved_ports"));
        int reservedInRange = reserved.get(range[0], range[1] + 1).cardinality();
        double seconds = interval.windowNanos / 1e9;
        Map<String, Double> counterRates = Sampler.rates(interval,
                List.of("ActiveOpens", "TW", "TWKilled", "TWRecycled", "TCPTimeWaitOverflow"));
        Double activeOpens = counterRates.remove("ActiveOpens");
        SocketRows rows = interval.last;
        Host host = new Host(proc.kernel(), range[0], range[1], reservedInRange, sysctls, activeOpens, counterRates,
                rows.size);

        Map<Remote, Tally> byRemote = new HashMap<>();
        Map<Integer, Listen> byPort = new TreeMap<>();
        for (int i = 0; i < rows.size; i++) {
            int state = rows.state(i);
            int localPort = rows.localPort(i);
            if (state == SocketRows.LISTEN) {
                listener(byPort, rows, i);
                continue;
            }
            if (rows.serverSide(i, interval.listening, range[0], range[1])) {
                Listen l = listener(byPort, rows, i);
                if (state == SocketRows.TIME_WAIT) {
                    l.timeWait++;
                } else if (state == SocketRows.CLOSE_WAIT) {
                    l.closeWait++;
                }
                continue;
            }
            Tally t = byRemote.computeIfAbsent(new Remote(rows.remoteHi[i], rows.remoteLo[i], rows.remotePort(i)),
                    r -> new Tally());
            t.count(state);
            if (localPort >= range[0] && localPort <= range[1] && !reserved.get(localPort)) {
                t.portsUsed++; // a port connect() could have picked
                if (state == SocketRows.TIME_WAIT) {
                    t.timeWaitPorts++;
                }
            }
            if (state == SocketRows.ESTABLISHED || state == SocketRows.CLOSE_WAIT) {
                int pid = owners.owner(rows.inodes[i]);
                if (pid != SocketOwners.UNKNOWN) {
                    int[] c = t.byPid.computeIfAbsent(pid, p -> new int[2]);
                    c[state == SocketRows.ESTABLISHED ? 0 : 1]++;
                } else {
                    t.unowned++;
                }
            }
        }
        interval.newTimeWait.keySet().forEach(r -> byRemote.computeIfAbsent(r, x -> new Tally()));

        int usable = host.usablePorts();
        List<Destination> destinations = new ArrayList<>();
        for (Map.Entry<Remote, Tally> e : byRemote.entrySet()) {
            Tally t = e.getValue();
            int[] fresh = interval.newTimeWait.getOrDefault(e.getKey(), new int[2]);
            double rate = seconds > 0 ? fresh[0] / seconds : 0;
            Map<Integer, Integer> attributed = interval.attributed.getOrDefault(e.getKey(), Map.of());
            List<Owner> processes = new ArrayList<>();
            Map<Integer, int[]> pids = new TreeMap<>(t.byPid);
            attributed.keySet().forEach(pid -> pids.computeIfAbsent(pid, p -> new int[2]));
            pids.forEach((pid, c) -> processes.add(new Owner(pid, owners.command(pid), c[0], c[1],
                    attributed.getOrDefault(pid, 0))));
            boolean reusable = timeWaitReusable(sysctls, e.getKey());
            // Under tcp_tw_reuse only the youngest TIME_WAIT holds ports; the rest connect() reuses.
            int timeWaitHolding = reusable ? Math.min(t.timeWaitPorts, (int) Math.ceil(rate * REUSE_SECONDS))
                    : t.timeWaitPorts;
            int portsLeft = Math.max(0, usable - (t.portsUsed - t.timeWaitPorts + timeWaitHolding));
            double held = t.established + t.synSent + t.closeWait + t.other;
            double needed = rate * (reusable ? REUSE_SECONDS : TIME_WAIT_SECONDS) + held;
            Double toExhaustion = null;
            Verdict verdict = Verdict.HEALTHY;
            if (portsLeft == 0 || needed >= usable) {
                verdict = Verdict.EXHAUSTING;
                toExhaustion = portsLeft == 0 ? 0.0 : rate > 0 ? portsLeft / rate : null;
            } else if (needed >= usable / 2.0 || (reusable ? timeWaitHolding : t.timeWait) + held >= usable / 2.0
                    || t.closeWait > 0) {
                verdict = Verdict.AT_RISK;
            }
            destinations.add(new Destination(e.getKey().toString(), t.established, t.synSent, t.timeWait,
                    t.closeWait, fresh[0], rate, fresh[1], portsLeft, toExhaustion, processes, verdict, reusable));
        }
        destinations.sort(Comparator.comparing((Destination d) -> d.verdict().ordinal()).reversed()
                .thenComparing(Comparator.comparingDouble(Destination::newTimeWaitPerSecond).reversed())
                .thenComparing(Comparator.comparingInt((Destination d) -> d.timeWait() + d.closeWait()).reversed())
                .thenComparing(Destination::remote));
        List<Listener> listeners = new ArrayList<>();
        byPort.values().forEach(l -> listeners.add(new Listener(l.local, l.timeWait, l.closeWait)));
        listeners.sort(Comparator.comparingInt((Listener l) -> l.timeWait() + l.closeWait()).reversed());

        Verdict verdict = Verdict.HEALTHY;
        for (Destination d : destinations) {
            verdict = verdict.worse(d.verdict());
        }
        for (Listener l : listeners) {
            if (l.closeWait() > 0) {
                verdict = verdict.worse(Verdict.AT_RISK);
            }
        }
        Diagnosis draft = new Diagnosis(host, asked, interval.reads, destinations, listeners, verdict, List.of());
        return new Diagnosis(host, asked, interval.reads, destinations, listeners, verdict, Advice.of(draft));
    }

    private static Listen listener(Map<Integer, Listen> byPort, SocketRows rows, int i) {
        return byPort.computeIfAbsent(rows.localPort(i),
                p -> new Listen(SocketRows.format(rows.localHi[i], rows.localLo[i], p)));
    }

    /**
     * Whether {@code connect()} reuses TIME_WAIT 4-tuples toward {@code remote}: tcp_tw_reuse 1,
     * or 2 (the kernel's default when the sysctl is absent) and a loopback destination; and
     * timestamps not off (reuse needs them).
     */
    static boolean timeWaitReusable(Map<String, String> sysctls, Remote remote) {
        if ("0".equals(sysctls.get("net.ipv4.tcp_timestamps"))) {
            return false;
        }
        String reuse = sysctls.getOrDefault("net.ipv4.tcp_tw_reuse", "2");
        return reuse.equals("1") || reuse.equals("2") && isLoopback(remote);
    }

    /** 127.0.0.0/8 (stored IPv4-mapped) or ::1, as the kernel's tcp_tw_reuse=2 test. */
    static boolean isLoopback(Remote remote) {
        if (remote.hi() != 0) {
            return false;
        }
        long lo = remote.lo();
        return lo == 1 || (lo >>> 32) == 0xFFFFL && ((int) lo >>> 24) == 127;
    }

    /**
     * Parses {@code ip_local_reserved_ports}, the kernel's comma-separated ports and
     * {@code first-last} ranges ({@code 40000-40099,50000}); blank, absent or not in that form:
     * none reserved (the kernel writes only that form; anything else is not from it).
     */
    static BitSet reservedPorts(String value) {
        BitSet ports = new BitSet(65_536);
        if (value == null || value.isBlank()) {
            return ports;
        }
        for (String item : value.strip().split(",", -1)) {
            int dash = item.indexOf('-');
            int first = port(dash < 0 ? item : item.substring(0, dash));
            int last = dash < 0 ? first : port(item.substring(dash + 1));
            if (first < 0 || last < first) {
                return new BitSet();
            }
            ports.set(first, last + 1);
        }
        return ports;
    }

    /** A port of 0-65535 in plain digits, else -1. */
    private static int port(String digits) {
        if (digits.isEmpty() || digits.length() > 5 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return -1;
        }
        int port = Integer.parseInt(digits);
        return port <= 65_535 ? port : -1;
    }

    /** Parses "lo hi"; the kernel's default where the sysctl cannot be read. */
    static int[] portRange(String value) {
        if (value != null) {
            String[] parts = value.trim().split("\\s+");
            if (parts.length == 2) {
                try {
                    return new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1])};
                } catch (NumberFormatException e) {
                    // fall through to the default
                }
            }
        }
        return new int[] {DEFAULT_PORT_LOW, DEFAULT_PORT_HIGH};
    }

    /** Client-side counts toward one destination. */
    private static final class Tally {
        int established;
        int synSent;
        int timeWait;
        int closeWait;
        int other;
        int portsUsed;
        int timeWaitPorts;
        int unowned;
        final Map<Integer, int[]> byPid = new HashMap<>(); // [established, closeWait]

        void count(int state) {
            switch (state) {
                case SocketRows.ESTABLISHED -> established++;
                case SocketRows.SYN_SENT -> synSent++;
                case SocketRows.TIME_WAIT -> timeWait++;
                case SocketRows.CLOSE_WAIT -> closeWait++;
                default -> other++;
            }
        }
    }

    /** Server-side counts on one listening port. */
    private static final class Listen {
        final String local;
        int timeWait;
        int closeWait;

        Listen(String local) {
            this.local = local;
        }
    }
}
