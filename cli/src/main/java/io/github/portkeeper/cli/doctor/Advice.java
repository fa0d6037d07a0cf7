package io.github.portkeeper.cli.doctor;

import io.github.portkeeper.cli.doctor.Diagnosis.Destination;
import io.github.portkeeper.cli.doctor.Diagnosis.Listener;
import io.github.portkeeper.cli.doctor.Diagnosis.Owner;
import io.github.portkeeper.cli.doctor.Diagnosis.Verdict;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The doctor's advice: who to fix first, then what each sysctl that matters does, grounded in
 * how the kernel behaves (TIME_WAIT is a fixed 60 s; only the side that closes first has it).
 */
final class Advice {

    private Advice() {
    }

    static List<String> of(Diagnosis d) {
        List<String> advice = new ArrayList<>();
        int range = d.host().usablePorts();
        int reserved = d.host().reservedPorts();
        for (Destination dest : d.destinations()) {
            if (dest.verdict() == Verdict.EXHAUSTING) {
                advice.add(exhausting(dest, range, reserved));
            } else if (dest.verdict() == Verdict.AT_RISK && dest.closeWait() == 0) {
                advice.add(String.format(Locale.ROOT, "%s: %,d client sockets and %.1f new TIME_WAIT/s use over half of "
                        + "the %,d ports toward it. Fix %s: reuse connections and let the server close first.",
                        dest.remote(), dest.established() + dest.timeWait() + dest.synSent(),
                        dest.newTimeWaitPerSecond(), range, who(dest)));
            }
            if (dest.timeWaitReusable() && dest.verdict() != Verdict.EXHAUSTING
                    && wouldRunOutWithoutReuse(dest, range)) {
                advice.add(reused(dest, d.host().sysctls().getOrDefault("net.ipv4.tcp_tw_reuse", "2")));
            }
            if (dest.closeWait() > 0) {
                advice.add(String.format(Locale.ROOT, "%s: %,d CLOSE_WAIT sockets: the server closed and %s never "
                        + "closed its side. CLOSE_WAIT is always an application bug: close the socket when a read "
                        + "returns end of stream, or use a pool that watches idle connections.",
                        dest.remote(), dest.closeWait(), who(dest)));
            }
            if (dest.unattributedTimeWait() > 0 && dest.verdict() != Verdict.HEALTHY) {
                advice.add(String.format(Locale.ROOT, "%s: %,d of %,d new TIME_WAIT sockets cannot be attributed: their "
                        + "connections opened and closed between two reads of the table (a TIME_WAIT socket has no "
                        + "owner). A shorter --interval reads more often.",
                        dest.remote(), dest.unattributedTimeWait(), dest.newTimeWait()));
            }
        }
        for (Listener l : d.listeners()) {
            if (l.closeWait() > 0) {
                advice.add(String.format(Locale.ROOT, "listening %s: %,d CLOSE_WAIT sockets: clients closed and the "
                        + "server application never closed its side (always an application bug).", l.local(), l.closeWait()));
            }
        }
        advice.addAll(sysctls(d));
        return advice;
    }

    /**
     * Why a destination runs out of ports, from what used them up: TIME_WAIT at the current rate,
     * sockets held open, or both; and the fix for that.
     */
    private static String exhausting(Destination dest, int range, int reserved) {
        double rate = dest.newTimeWaitPerSecond();
        double timeWaitPorts = rate * 60;
        int open = dest.established() + dest.synSent() + dest.closeWait();
        String ports = reserved > 0 ? String.format(Locale.ROOT, "%,d usable ports (ip_local_port_range less "
                + "ip_local_reserved_ports)", range) : null;
        String why;
        if (timeWaitPorts >= range) {
            why = String.format(Locale.ROOT, "%.1f new client TIME_WAIT/s needs %,.0f ports at 60 s each, more than the %s",
                    rate, timeWaitPorts, ports != null ? ports : String.format(Locale.ROOT, "%,d of ip_local_port_range", range));
        } else if (rate > 0) {
            why = String.format(Locale.ROOT, "%,d open client sockets and %.1f new TIME_WAIT/s (%,.0f ports at 60 s each)"
                    + " need more than the %s", open, rate, timeWaitPorts,
                    ports != null ? ports : String.format(Locale.ROOT, "%,d ports of ip_local_port_range", range));
        } else {
            why = String.format(Locale.ROOT, "%,d open client sockets%s hold the %s",
                    open, dest.timeWait() > 0 ? String.format(Locale.ROOT, " and %,d in TIME_WAIT", dest.timeWait()) : "",
                    ports != null ? ports : String.format(Locale.ROOT, "%,d ports of ip_local_port_range", range));
        }
        String when = dest.portsLeft() == 0 ? "no port is left toward it"
                : dest.secondsToExhaustion() == null ? "ports run out soon"
                : String.format(Locale.ROOT, "ports run out in about %.0f s", dest.secondsToExhaustion());
        String fix = timeWaitPorts >= open
                ? "reuse connections (a pool with keep-alive) and let the server close first"
                : "hold fewer connections open toward it (a pool with a per-destination limit that closes idle ones)";
        return String.format(Locale.ROOT, "%s: %s; %s. Fix %s: %s.", dest.remote(), why, when, who(dest), fix);
    }

    /** Whether the destination's TIME_WAIT would use up half its ports or more if connect() did not reuse it. */
    private static boolean wouldRunOutWithoutReuse(Destination dest, int range) {
        int open = dest.established() + dest.synSent() + dest.closeWait();
        return dest.newTimeWaitPerSecond() * 60 + open >= range / 2.0 || dest.timeWait() + open >= range / 2.0;
    }

    /** Why TIME_WAIT that would use up the ports of another destination does not toward this one. */
    private static String reused(Destination dest, String reuse) {
        return String.format(Locale.ROOT, "%s: %,d client sockets in TIME_WAIT (%.1f new/s, %,.0f ports at 60 s each) do "
                + "not use up its ports: with net.ipv4.tcp_tw_reuse %s connect() reuses a 4-tuple toward it whose "
                + "TIME_WAIT is more than 1 s old (timestamps on), so only the last second or two of them hold ports. "
                + "Toward a destination without reuse%s the same traffic would; reusing connections removes it anyway.",
                dest.remote(), dest.timeWait(), dest.newTimeWaitPerSecond(), dest.newTimeWaitPerSecond() * 60, reuse,
                reuse.equals("2") ? " (not loopback, with the default 2)" : " (tcp_tw_reuse 0)");
    }

    /** "pid 42 (java -jar app.jar)" for each owner, or a statement that none is known. */
    static String who(Destination dest) {
        List<Owner> owners = dest.processes();
        if (owners.isEmpty()) {
            return "the process that opens them (not seen: it ran between reads, or belongs to another user; run as root)";
        }
        return owners.stream().map(o -> "pid " + o.pid() + " (" + o.command() + ")").collect(Collectors.joining(", "));
    }

    private static List<String> sysctls(Diagnosis d) {
        Map<String, String> s = d.host().sysctls();
        List<String> advice = new ArrayList<>();
        int range = d.host().rangeSize();
        int reserved = d.host().reservedPorts();
        advice.add(String.format(Locale.ROOT, "net.ipv4.ip_local_port_range %d-%d: %,d ports%s, so at most %,d new "
                + "connections/s to one destination when the client closes first (TIME_WAIT holds each 4-tuple 60 s).",
                d.host().portLow(), d.host().portHigh(), range, reserved == 0 ? ""
                        : String.format(Locale.ROOT, ", %,d of them reserved by net.ipv4.ip_local_reserved_ports "
                                + "(connect() never picks them)", reserved),
                d.host().usablePorts() / 60));
        String reuse = s.get("net.ipv4.tcp_tw_reuse");
        if (reuse != null) {
            String meaning = switch (reuse) {
                case "0" -> "off";
                case "1" -> "on";
                case "2" -> "on for loopback only, the default";
                default -> "an unknown value";
            };
            advice.add("net.ipv4.tcp_tw_reuse " + reuse + " (" + meaning + "): 1 lets a new outgoing connection reuse "
                    + "a 4-tuple whose TIME_WAIT is more than 1 s old when timestamps make it safe (2 does so toward "
                    + "loopback only, which is why loopback hides port exhaustion); it helps outgoing connections only "
                    + "(never a server's side) and needs net.ipv4.tcp_timestamps=1. Reusing connections removes the need.");
        }
        String timestamps = s.get("net.ipv4.tcp_timestamps");
        if (timestamps != null && timestamps.equals("0")) {
            advice.add("net.ipv4.tcp_timestamps 0: TIME_WAIT reuse (tcp_tw_reuse) cannot work without timestamps.");
        }
        String recycle = s.get("net.ipv4.tcp_tw_recycle");
        advice.add(recycle == null
                ? "net.ipv4.tcp_tw_recycle: absent, as it should be: removed in Linux 4.12; before that it dropped "
                        + "connections from clients behind NAT. Do not look for it."
                : "net.ipv4.tcp_tw_recycle " + recycle + ": turn it off; it drops connections from clients behind NAT "
                        + "(removed in Linux 4.12).");
        String fin = s.get("net.ipv4.tcp_fin_timeout");
        if (fin != null) {
            advice.add("net.ipv4.tcp_fin_timeout " + fin + ": bounds FIN_WAIT2, not TIME_WAIT; TIME_WAIT is a fixed 60 s "
                    + "(TCP_TIMEWAIT_LEN) whatever it says.");
        }
        String buckets = s.get("net.ipv4.tcp_max_tw_buckets");
        if (buckets != null) {
            Double overflow = d.host().tcpExtPerSecond().get("TCPTimeWaitOverflow");
            advice.add("net.ipv4.tcp_max_tw_buckets " + buckets + ": past this many TIME_WAIT sockets the kernel "
                    + "destroys new ones at once (TcpExt TCPTimeWaitOverflow"
                    + (overflow == null ? "" : String.format(Locale.ROOT, ", now %.1f/s", overflow))
                    + "), risking old segments landing in new connections.");
        }
        advice.add("SO_LINGER 0 (close with reset) trades TIME_WAIT for resets: no TIME_WAIT anywhere, but the peer "
                + "sees a reset and unsent data is lost; safe only on an idle connection.");
        return advice;
    }
}
