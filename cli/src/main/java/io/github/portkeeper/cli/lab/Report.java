package io.github.portkeeper.cli.lab;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Function;

/** Prints the lab's table (one column per mode) and its verdict in plain words. */
final class Report {

    private static final int LABEL_WIDTH = 30;
    private static final int COLUMN_WIDTH = 17;
    private static final int TEXT_WIDTH = 100;
    /** A median this long on reused connections, far above naive's, points at delayed ACKs (Linux: 40 ms max). */
    static final long DELAYED_ACK_MICROS = 20_000;

    private final List<ModeResult> results;
    private final LabOptions options;
    private final HostFacts host;
    private final String micro;

    /**
     * @param unicode whether the output can show {@code µ}; otherwise microseconds are {@code us}
     */
    Report(List<ModeResult> results, LabOptions options, HostFacts host, boolean unicode) {
        this.results = results;
        this.options = options;
        this.host = host;
        this.micro = unicode ? "\u00b5s" : "us";
    }

    /** The lines before the runs: what is about to happen and on what host. */
    static void printHeader(PrintStream out, LabOptions options, HostFacts host) {
        out.printf(Locale.ROOT, "Portkeeper TIME_WAIT lab: %,d GET requests per mode, %d client threads%n",
                options.requests(), options.concurrency());
        if (options.target().isPresent()) {
            out.println("server: " + options.target().get() + " (--target)");
        } else {
            long ms = options.serverIdleTimeout().toMillis();
            out.println("server: embedded HTTP/1.1 on 127.0.0.1, a fresh port per mode, closes connections idle > "
                    + human(ms) + (ms >= 1000 ? " (Keep-Alive: timeout=" + ms / 1000 + ")" : ""));
        }
        out.println("host:   " + host.describe());
        out.println();
    }

    void print(PrintStream out) {
        row(out, "", r -> r.mode().label());
        row(out, "server", ModeResult::target);
        row(out, "requests", r -> num(r.outcome().requests()));
        row(out, "  succeeded", r -> num(r.outcome().succeeded()));
        row(out, "  failed", r -> num(r.outcome().failed()));
        Set<String> causes = new LinkedHashSet<>();
        results.forEach(r -> causes.addAll(r.outcome().errors().keySet()));
        for (String cause : causes) {
            row(out, "    " + cause, r -> {
                Long n = r.outcome().errors().get(cause);
                return n == null ? "-" : num(n);
            });
        }
        row(out, "requests/s", r -> num(Math.round(r.outcome().requestsPerSecond())));
        row(out, "latency p50 (" + micro + ")", r -> r.outcome().p50Micros() < 0 ? "-" : num(r.outcome().p50Micros()));
        row(out, "latency p99 (" + micro + ")", r -> r.outcome().p99Micros() < 0 ? "-" : num(r.outcome().p99Micros()));
        row(out, "connections per server, limit", r -> r.poolLimit() < 0 ? "none" : num(r.poolLimit()));
        row(out, "connections opened", r -> num(r.connectionsOpened()));
        row(out, "endings peer / local / reset", r -> num(r.closes().peer()) + " / " + num(r.closes().local()) + " / "
                + num(r.closes().reset()));
        row(out, "idle after last request", r -> r.mode() == Mode.NAIVE ? "-"
                : String.format(Locale.ROOT, "%.1fs", r.cooldownMillis() / 1000.0));
        row(out, "client TIME_WAIT peak / end", r -> peak(r.clientTimeWait()));
        row(out, "client CLOSE_WAIT before close", r -> num(r.clientCloseWaitAtClose()));
        if (options.target().isEmpty()) {
            row(out, "server TIME_WAIT peak / end", r -> peak(r.serverTimeWait()));
        }
        row(out, "timewait.caused", r -> num(r.timeWaitCaused()));
        row(out, "timewait.avoided", r -> num(r.timeWaitAvoided()));
        out.println();
        for (ModeResult r : results) {
            for (String note : r.notes()) {
                wrap(out, "note: " + note);
            }
        }
        wrap(out, verdict());
    }

    private void row(PrintStream out, String label, Function<ModeResult, String> cell) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-" + LABEL_WIDTH + "s", label));
        for (ModeResult r : results) {
            sb.append(String.format(Locale.ROOT, "%" + COLUMN_WIDTH + "s", cell.apply(r)));
        }
        out.println(sb.toString().stripTrailing());
    }

    /** The verdict: one paragraph, from the figures. */
    String verdict() {
        List<String> s = new ArrayList<>();
        for (ModeResult r : results) {
            if ((r.outcome().succeeded() == 0 && r.mode() != Mode.NAIVE)
                    || (r.connectionsOpened() != null && r.connectionsOpened() == 0)) {
                String cause = r.outcome().errors().keySet().stream().findFirst().orElse("unknown");
                s.add(String.format(Locale.ROOT, "In the %s mode every request failed (%s), so it shows nothing about"
                        + " TIME_WAIT.", r.mode().label(), cause));
                continue;
            }
            switch (r.mode()) {
                case NAIVE:
                    s.add(naive(r));
                    break;
                case HTTPCLIENT:
                    s.add(httpclient(r));
                    break;
                default:
                    s.add(portkeeper(r));
            }
        }
        s.addAll(comparison());
        delayedAcks().ifPresent(s::add);
        return "Verdict: " + String.join(" ", s);
    }

    /** What the modes' figures say together, when naive closed first and Portkeeper did not. */
    private List<String> comparison() {
        ModeResult naive = byMode(Mode.NAIVE);
        ModeResult pk = byMode(Mode.PORTKEEPER);
        List<String> s = new ArrayList<>();
        if (naive == null || pk == null || naive.closes().local() == null || naive.closes().local() == 0
                || pk.closes().local() == null || pk.closes().local() != 0) {
            return s;
        }
        long peer = pk.closes().peer() == null ? 0 : pk.closes().peer();
        long reset = pk.closes().reset() == null ? 0 : pk.closes().reset();
        StringBuilder sb = new StringBuilder("Reusing connections is what removes almost all TIME_WAIT");
        if (reset == 0 && peer > 0) {
            sb.append(String.format(Locale.ROOT, "; Portkeeper also let the server close all %s connections that ended",
                    num(peer)));
        } else if (reset > 0) {
            sb.append(String.format(Locale.ROOT, "; of the %s Portkeeper connections that ended, the server closed %s"
                    + " and %s were reset when the client was closed while they were still open (no TIME_WAIT on either"
                    + " side, but the server saw a reset)", num(peer + reset), num(peer), num(reset)));
            if (options.target().isPresent() && options.cooldown().map(Duration::isZero).orElse(true)) {
                sb.append("; with --target the clients are closed right after the last request: a --cooldown longer"
                        + " than the server's keep-alive timeout lets the server close them first");
            }
        }
        Long caused = pk.timeWaitCaused();
        if (pk.clientTimeWait() != null && caused != null && caused == pk.clientTimeWait().end()) {
            sb.append(String.format(Locale.ROOT, ", and its metrics count %s TIME_WAIT caused, as many as the kernel",
                    num(caused)));
        }
        s.add(sb.append('.').toString());
        return s;
    }

    /**
     * Notices a server whose responses stall on reused connections: pooled modes slower than
     * naive, with medians near the delayed-ACK timer. A server that writes a response in several
     * small writes with Nagle's algorithm on sends the second only once the first is acknowledged;
     * on a fresh connection Linux acknowledges at once (quick-ACK), on a reused one it delays the
     * ACK up to 40 ms.
     */
    private java.util.Optional<String> delayedAcks() {
        ModeResult naive = byMode(Mode.NAIVE);
        if (naive == null || naive.outcome().succeeded() == 0 || naive.outcome().p50Micros() < 0) {
            return java.util.Optional.empty();
        }
        List<String> slow = new ArrayList<>();
        for (ModeResult r : results) {
            long p50 = r.outcome().p50Micros();
            if (r.mode() != Mode.NAIVE && r.outcome().succeeded() > 0 && p50 >= DELAYED_ACK_MICROS
                    && p50 >= 2 * naive.outcome().p50Micros()
                    && r.outcome().requestsPerSecond() < naive.outcome().requestsPerSecond()) {
                slow.add(String.format(Locale.ROOT, "%s %,.0f req/s, median %,.0f ms", r.mode().label(),
                        r.outcome().requestsPerSecond(), p50 / 1000.0));
            }
        }
        if (slow.isEmpty()) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(String.format(Locale.ROOT, "Pooling looks slower here (%s, against naive's %,.0f"
                + " req/s, median %,.0f ms), and that is the server's doing: its responses stall on a reused connection"
                + " at about the delayed-ACK timer, the mark of a server that writes a response in several small writes"
                + " with Nagle's algorithm on (no TCP_NODELAY). The second write waits for the ACK of the first; on a new"
                + " connection Linux acknowledges at once, on a reused one it delays the ACK up to 40 ms. Fix the server"
                + " (TCP_NODELAY, or one write per response; python3 -m http.server is such a server), not the pooling.",
                String.join("; ", slow), naive.outcome().requestsPerSecond(), naive.outcome().p50Micros() / 1000.0));
    }

    private ModeResult byMode(Mode mode) {
        return results.stream().filter(r -> r.mode() == mode).findFirst().orElse(null);
    }

    private String naive(ModeResult r) {
        long eaddr = r.outcome().errors().getOrDefault(Failures.EADDRNOTAVAIL, 0L);
        String tw = r.clientTimeWait() == null ? "an unknown number of" : num(r.clientTimeWait().end());
        if (eaddr > 0) {
            return String.format(Locale.ROOT, "The naive client ran out of ports: it opened %s connections, closed each one"
                            + " first, and then connect() failed %s times with EADDRNOTAVAIL (\"Cannot assign requested"
                            + " address\"), since %s TIME_WAIT sockets held every usable port toward the server.",
                    num(r.connectionsOpened()), num(eaddr), tw);
        }
        long peer = r.closes().peer() == null ? 0 : r.closes().peer();
        long reset = r.closes().reset() == null ? 0 : r.closes().reset();
        if (peer > 0) {
            return String.format(Locale.ROOT, "The naive client opened a connection per request, but the server closed %s of"
                            + " them first%s, so the kernel counted %s TIME_WAIT sockets on this host at the end: here the"
                            + " server pays the TIME_WAIT, and new connections still cost a handshake each.", num(peer),
                    reset > 0 ? " and " + num(reset) + " ended in a reset" : "", tw);
        }
        if (reset > 0) {
            return String.format(Locale.ROOT, "The naive client opened a connection per request, but %s of them ended in a"
                    + " reset, which leaves no TIME_WAIT, so the kernel counted %s TIME_WAIT sockets on this host at the"
                    + " end; new connections still cost a handshake each.", num(reset), tw);
        }
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "The naive client opened a connection per request and closed each one first, so the kernel counted %s"
                        + " TIME_WAIT sockets on this host at the end, each holding a port for 60 s.", tw));
        double rate = r.outcome().requestsPerSecond();
        if (host.known() && rate > 0) {
            double perSecondLimit = host.rangeSize() / 60.0;
            double steady = rate * 60;
            double unit = Math.pow(10, Math.max(0, Math.floor(Math.log10(Math.max(1, steady))) - 1));
            sb.append(String.format(Locale.ROOT, " At %,.0f new connections per second that is about %,.0f TIME_WAIT sockets"
                            + " in steady state, %s the %,d ports this host has for one server:",
                    rate, Math.round(steady / unit) * unit, share(steady, host.rangeSize()), host.rangeSize()));
            sb.append(String.format(Locale.ROOT, " past %,.0f new connections per second", perSecondLimit));
            if ("0".equals(host.twReuse()) || !r.loopback()) {
                sb.append(" connect() fails with EADDRNOTAVAIL.");
            } else {
                sb.append(" connect() fails with EADDRNOTAVAIL. On loopback the kernel hides this by reusing TIME_WAIT"
                        + " ports (tcp_tw_reuse=" + host.twReuse() + "); --starved turns that off.");
            }
        }
        return sb.toString();
    }

    /** "more than", or the share of the range that {@code sockets} would hold: "12% of", "under 1% of". */
    static String share(double sockets, int range) {
        if (sockets > range) {
            return "more than";
        }
        double percent = 100.0 * sockets / range;
        return percent < 1 ? "under 1% of" : String.format(Locale.ROOT, "%.0f%% of", Math.floor(percent));
    }

    private String httpclient(ModeResult r) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "Stock HttpClient served %s requests on %s connections (its default limit is 5 per server)",
                num(r.outcome().succeeded()), num(r.connectionsOpened())));
        if (r.clientTimeWait() != null) {
            long local = r.closes().local() == null ? 0 : r.closes().local();
            sb.append(String.format(Locale.ROOT, " and left %s TIME_WAIT sockets here", num(r.clientTimeWait().end())));
            if (local > 0) {
                sb.append(", one for each connection it closed first itself");
            }
            sb.append('.');
            Integer cw = r.clientCloseWaitAtClose();
            if (cw != null && cw > 0) {
                sb.append(String.format(Locale.ROOT, " But when the server closed the idle connections, %s of them sat in"
                        + " CLOSE_WAIT until the client was closed: its pool notices a server's FIN only when it leases"
                        + " the connection again.", num(cw)));
            }
        } else {
            sb.append('.');
        }
        return sb.toString();
    }

    private String portkeeper(ModeResult r) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "Portkeeper served %s requests on %s connections;"
                        + " %s ended by the server closing first, %s by a local FIN and %s by a reset",
                num(r.outcome().succeeded()), num(r.connectionsOpened()), num(r.closes().peer()), num(r.closes().local()),
                num(r.closes().reset())));
        if (r.clientTimeWait() != null) {
            sb.append(String.format(Locale.ROOT, ", and the kernel counted %s TIME_WAIT sockets on this host",
                    num(r.clientTimeWait().end())));
        }
        sb.append(String.format(Locale.ROOT, ": timewait.avoided = %s.", num(r.timeWaitAvoided())));
        if (r.outcome().failed() > 0) {
            sb.append(String.format(Locale.ROOT, " %s of its requests failed (see the table).", num(r.outcome().failed())));
        }
        return sb.toString();
    }

    private static String peak(ModeResult.Peak p) {
        return p == null ? "?" : num(p.peak()) + " / " + num(p.end());
    }

    static String num(Number n) {
        return n == null ? "?" : String.format(Locale.ROOT, "%,d", n.longValue());
    }

    static String human(long millis) {
        if (millis % 1000 == 0 && millis > 0) {
            return millis / 1000 + "s";
        }
        return millis < 1000 ? millis + "ms" : String.format(Locale.ROOT, "%.1fs", millis / 1000.0);
    }

    private static void wrap(PrintStream out, String text) {
        StringBuilder line = new StringBuilder();
        for (String word : text.split(" ")) {
            if (line.length() > 0 && line.length() + 1 + word.length() > TEXT_WIDTH) {
                out.println(line);
                line.setLength(0);
            }
            if (line.length() > 0) {
                line.append(' ');
            }
            line.append(word);
        }
        if (line.length() > 0) {
            out.println(line);
        }
    }
}
