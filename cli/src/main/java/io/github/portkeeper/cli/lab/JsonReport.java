package io.github.portkeeper.cli.lab;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code --json} document, one object per mode:
 * <pre>{@code
 * {"runs":[{"mode":…, "target":"host:port", "requests":…, "succeeded":…, "failed":…,
 *   "errors":{cause:count}, "requestsPerSecond":…, "latencyMicros":{"p50":…,"p99":…},
 *   "connectionsOpened":…, "clientTimeWait":{"peak":…,"end":…},
 *   "serverTimeWait":{"peak":…,"end":…}, "closes":{"peer":…,"local":…,"reset":…},
 *   "timewaitCaused":…, "timewaitAvoided":…}]}
 * }</pre>
 * {@code serverTimeWait} appears only when the server ran on this host. A figure the lab could
 * not observe is {@code null} ({@code serverTimeWait} too, as {@code {"peak":null,"end":null}}).
 */
final class JsonReport {

    private JsonReport() {
    }

    static String of(List<ModeResult> results) {
        StringBuilder sb = new StringBuilder("{\"runs\":[");
        for (int i = 0; i < results.size(); i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append("\n  ");
            run(sb, results.get(i));
        }
        return sb.append("\n]}\n").toString();
    }

    private static void run(StringBuilder sb, ModeResult r) {
        Workload.Outcome o = r.outcome();
        sb.append('{');
        field(sb, "mode", str(r.mode().label())).append(',');
        field(sb, "target", str(r.target())).append(',');
        field(sb, "requests", num(o.requests())).append(',');
        field(sb, "succeeded", num(o.succeeded())).append(',');
        field(sb, "failed", num(o.failed())).append(',');
        StringBuilder errors = new StringBuilder("{");
        for (Map.Entry<String, Long> e : o.errors().entrySet()) {
            if (errors.length() > 1) {
                errors.append(',');
            }
            field(errors, e.getKey(), num(e.getValue()));
        }
        field(sb, "errors", errors.append('}').toString()).append(',');
        field(sb, "requestsPerSecond", String.format(Locale.ROOT, "%.1f", o.requestsPerSecond())).append(',');
        field(sb, "latencyMicros", "{\"p50\":" + (o.p50Micros() < 0 ? "null" : o.p50Micros())
                + ",\"p99\":" + (o.p99Micros() < 0 ? "null" : o.p99Micros()) + "}").append(',');
        field(sb, "connectionsOpened", num(r.connectionsOpened())).append(',');
        field(sb, "clientTimeWait", peak(r.clientTimeWait())).append(',');
        if (r.serverOnThisHost()) {
            field(sb, "serverTimeWait", peak(r.serverTimeWait())).append(',');
        }
        ModeResult.Closes c = r.closes();
        field(sb, "closes", "{\"peer\":" + num(c.peer()) + ",\"local\":" + num(c.local()) + ",\"reset\":" + num(c.reset()) + "}")
                .append(',');
        field(sb, "timewaitCaused", num(r.timeWaitCaused())).append(',');
        field(sb, "timewaitAvoided", num(r.timeWaitAvoided()));
        sb.append('}');
    }

    private static String peak(ModeResult.Peak p) {
        return p == null ? "{\"peak\":null,\"end\":null}" : "{\"peak\":" + p.peak() + ",\"end\":" + p.end() + "}";
    }

    private static StringBuilder field(StringBuilder sb, String name, String json) {
        return sb.append(str(name)).append(':').append(json);
    }

    private static String num(Number n) {
        return n == null ? "null" : String.valueOf(n.longValue());
    }

    static String str(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        return sb.append('"').toString();
    }
}
