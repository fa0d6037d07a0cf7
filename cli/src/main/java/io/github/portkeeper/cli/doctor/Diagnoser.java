package io.github.portkeeper.cli.doctor;

import io.github.portkeeper.cli.doctor.Diagnosis.Destination;
import io.github.portkeeper.cli.doctor.Diagnosis.Host;
import io.github.portkeeper.cli.doctor.Diagnosis.Listener;
import io.github.portkeeper.cli.doctor.Diagnosis.Owner;
import io.github.portkeeper.cli.doctor.Diagnosis.Verdict;
import io.github.portkeeper.cli.doctor.Sampler.Remote;
import java.time.Duration;
import java.util.ArrayList;
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
 */
final class Diagnoser {

    /** TIME_WAIT lasts TCP_TIMEWAIT_LEN, 60 s, whatever the sysctls say. */
    static final double TIME_WAIT_SECONDS = 60;
    static final int DEFAULT_PORT_LOW = 32_768;
    static final int DEFAULT_PORT_HIGH = 60_999;

    private Diagnoser() {
    }

    static Diagnosis diagnose(ProcFs proc, Sampler.Interval interval, SocketOwners owners, Duration asked) {
        Map<String, String> sysctls = proc.sysctls();
        int[] range = portRange(sysctls.get("net.ipv4.ip_local_port_range"));
        double seconds = interval.windowNanos / 1e9;
        Map<String, Double> counterRates = Sampler.rates(interval,
                List.of("ActiveOpens", "TW", "TWKilled", "TWRecycled", "TCPTimeWaitOverflow"));
        Double activeOpens = counterRates.remove("ActiveOpens");
        SocketRows rows = interval.last;
        Host host = new Host(proc.kernel(), range[0], range[1], sysctls, activeOpens, counterRates, rows.size);

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
            if (localPort >= range[0] && localPort <= range[1]) {
                t.portsUsed++;
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

        int rangeSize = host.rangeSize();
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
            int portsLeft = Math.max(0, rangeSize - t.portsUsed);
            double held = t.established + t.synSent + t.closeWait + t.other;
            double needed = rate * TIME_WAIT_SECONDS + held;
            Double toExhaustion = null;
            Verdict verdict = Verdict.HEALTHY;
            if (portsLeft == 0 || needed >= rangeSize) {
                verdict = Verdict.EXHAUSTING;
                toExhaustion = portsLeft == 0 ? 0.0 : rate > 0 ? portsLeft / rate : null;
            } else if (needed >= rangeSize / 2.0 || t.timeWait + held >= rangeSize / 2.0 || t.closeWait > 0) {
                verdict = Verdict.AT_RISK;
            }
            destinations.add(new Destination(e.getKey().toString(), t.established, t.synSent, t.timeWait,
                    t.closeWait, fresh[0], rate, fresh[1], portsLeft, toExhaustion, processes, verdict));
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
