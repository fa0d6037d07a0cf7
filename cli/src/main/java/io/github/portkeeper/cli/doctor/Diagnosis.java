package io.github.portkeeper.cli.doctor;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What the doctor found over one interval: the host's facts, each destination's client sockets
 * and each listening port's server sockets, a verdict and advice. Rendered as a table
 * ({@link DoctorReport}) or as JSON ({@link DoctorJson}).
 */
record Diagnosis(Host host, Duration interval, int reads, List<Destination> destinations,
                 List<Listener> listeners, Verdict verdict, List<String> advice) {

    /** The worst-first verdict words, as printed and in JSON. */
    enum Verdict {
        HEALTHY("healthy"), AT_RISK("at-risk"), EXHAUSTING("exhausting");

        final String word;

        Verdict(String word) {
            this.word = word;
        }

        Verdict worse(Verdict other) {
            return other.ordinal() > ordinal() ? other : this;
        }
    }

    /**
     * Host-wide facts; rates are {@code null} where the kernel's counters could not be read.
     * {@code reservedPorts} are the ports of the range that {@code ip_local_reserved_ports}
     * keeps from {@code connect()}.
     */
    record Host(String kernel, int portLow, int portHigh, int reservedPorts, Map<String, String> sysctls,
                Double activeOpensPerSecond, Map<String, Double> tcpExtPerSecond, int sockets) {

        int rangeSize() {
            return portHigh - portLow + 1;
        }

        /** The ports {@code connect()} may pick: the range less its reserved ports. */
        int usablePorts() {
            return rangeSize() - reservedPorts;
        }
    }

    /**
     * Client-side sockets toward one remote endpoint. {@code timeWaitReusable}: {@code tcp_tw_reuse}
     * lets {@code connect()} reuse its TIME_WAIT 4-tuples once they are a second old, so they hold
     * no ports past that.
     */
    record Destination(String remote, int established, int synSent, int timeWait, int closeWait,
                       int newTimeWait, double newTimeWaitPerSecond, int unattributedTimeWait,
                       int portsLeft, Double secondsToExhaustion, List<Owner> processes, Verdict verdict,
                       boolean timeWaitReusable) {
    }

    /** A process holding sockets toward a destination. */
    record Owner(int pid, String command, int established, int closeWait, int timeWaitAttributed) {
    }

    /** Server-side sockets on one listening port. */
    record Listener(String local, int timeWait, int closeWait) {
    }
}
