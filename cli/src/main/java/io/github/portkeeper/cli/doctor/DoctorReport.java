package io.github.portkeeper.cli.doctor;

import io.github.portkeeper.cli.doctor.Diagnosis.Destination;
import io.github.portkeeper.cli.doctor.Diagnosis.Listener;
import io.github.portkeeper.cli.doctor.Diagnosis.Owner;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;

/** The doctor's table: destinations worst first, listening ports, verdict and advice. */
final class DoctorReport {

    private DoctorReport() {
    }

    static void print(Diagnosis d, int top, PrintWriter out) {
        Diagnosis.Host h = d.host();
        out.printf(Locale.ROOT, "Portkeeper doctor: kernel %s, %,d sockets, socket table read %d times over %s%n",
                h.kernel(), h.sockets(), d.reads(), human(d.interval().toMillis()));
        StringBuilder host = new StringBuilder("host: ");
        host.append(h.activeOpensPerSecond() == null ? "outgoing connections/s unknown (no /proc/net/snmp)"
                : String.format(Locale.ROOT, "%.1f outgoing connections/s (Tcp ActiveOpens)", h.activeOpensPerSecond()));
        h.tcpExtPerSecond().forEach((name, rate) -> host.append(String.format(Locale.ROOT, ", %s %.1f/s", name, rate)));
        out.println(host);
        out.printf(Locale.ROOT, "ports: ip_local_port_range %d-%d (%,d ports%s)%n%n", h.portLow(), h.portHigh(),
                h.rangeSize(), h.reservedPorts() == 0 ? "" : String.format(Locale.ROOT, ", %,d reserved: %,d usable",
                        h.reservedPorts(), h.usablePorts()));

        List<Destination> dests = d.destinations();
        out.printf(Locale.ROOT, "%-32s %7s %8s %9s %10s %8s %10s %12s  %s%n", "client sockets by destination",
                "ESTAB", "SYN_SENT", "TIME_WAIT", "CLOSE_WAIT", "new TW/s", "ports left", "exhausted in", "verdict");
        if (dests.isEmpty()) {
            out.println("(no client sockets)");
        }
        for (int i = 0; i < Math.min(top, dests.size()); i++) {
            Destination x = dests.get(i);
            out.printf(Locale.ROOT, "%-32s %,7d %,8d %,9d %,10d %8.1f %,10d %12s  %s%n", x.remote(), x.established(),
                    x.synSent(), x.timeWait(), x.closeWait(), x.newTimeWaitPerSecond(), x.portsLeft(),
                    x.secondsToExhaustion() == null ? "-" : human((long) (x.secondsToExhaustion() * 1000)),
                    x.verdict().word);
            for (Owner o : x.processes()) {
                out.printf(Locale.ROOT, "    pid %d %s: %,d established, %,d CLOSE_WAIT, %,d new TIME_WAIT attributed%n",
                        o.pid(), o.command(), o.established(), o.closeWait(), o.timeWaitAttributed());
            }
            if (x.unattributedTimeWait() > 0) {
                out.printf(Locale.ROOT, "    %,d new TIME_WAIT not attributed: opened and closed between two reads%n",
                        x.unattributedTimeWait());
            }
        }
        if (dests.size() > top) {
            out.printf(Locale.ROOT, "(%,d more destinations; --top or --json lists them)%n", dests.size() - top);
        }
        out.println();
        out.printf(Locale.ROOT, "%-32s %9s %10s%n", "server sockets by listening port", "TIME_WAIT", "CLOSE_WAIT");
        List<Listener> listeners = d.listeners();
        if (listeners.isEmpty()) {
            out.println("(no listening ports)");
        }
        for (int i = 0; i < Math.min(top, listeners.size()); i++) {
            Listener l = listeners.get(i);
            out.printf(Locale.ROOT, "%-32s %,9d %,10d%n", l.local(), l.timeWait(), l.closeWait());
        }
        if (listeners.size() > top) {
            out.printf(Locale.ROOT, "(%,d more listening ports)%n", listeners.size() - top);
        }
        out.println();
        out.println("verdict: " + d.verdict().word);
        for (String a : d.advice()) {
            out.println("  - " + a);
        }
    }

    static String human(long millis) {
        if (millis < 1_000) {
            return millis + " ms";
        }
        if (millis < 120_000) {
            return String.format(Locale.ROOT, "%.1f s", millis / 1000.0).replace(".0 s", " s");
        }
        return String.format(Locale.ROOT, "%.0f min", millis / 60_000.0);
    }
}
