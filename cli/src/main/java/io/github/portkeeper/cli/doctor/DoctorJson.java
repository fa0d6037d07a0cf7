package io.github.portkeeper.cli.doctor;

import io.github.portkeeper.cli.doctor.Diagnosis.Destination;
import io.github.portkeeper.cli.doctor.Diagnosis.Listener;
import io.github.portkeeper.cli.doctor.Diagnosis.Owner;
import io.github.portkeeper.cli.internal.Json;
import java.util.Map;

/**
 * The {@code --json} document:
 * <pre>{@code
 * {"host": {"kernel": "...", "portRange": [lo, hi], "sysctls": {"net.ipv4.tcp_tw_reuse": "2", ...},
 *           "activeOpensPerSecond": x},
 *  "interval": "PT5S",
 *  "destinations": [{"remote": "ip:port", "established": n, "synSent": n, "timeWait": n,
 *                    "closeWait": n, "newTimeWaitPerSecond": x, "portsLeft": n,
 *                    "secondsToExhaustion": x | null,
 *                    "processes": [{"pid": n, "command": "...", "established": n, "closeWait": n,
 *                                   "timeWaitAttributed": n}]}],
 *  "listeners": [{"local": "ip:port", "timeWait": n, "closeWait": n}],
 *  "verdict": "healthy" | "at-risk" | "exhausting",
 *  "advice": ["..."]}
 * }</pre>
 */
final class DoctorJson {

    private DoctorJson() {
    }

    static String of(Diagnosis d) {
        Json j = new Json().begin(null);
        j.begin("host").string("kernel", d.host().kernel())
                .beginArray("portRange").number(null, d.host().portLow()).number(null, d.host().portHigh()).endArray()
                .begin("sysctls");
        for (Map.Entry<String, String> e : d.host().sysctls().entrySet()) {
            j.string(e.getKey(), e.getValue());
        }
        j.end().decimal("activeOpensPerSecond", d.host().activeOpensPerSecond()).end();
        j.string("interval", d.interval().toString());
        j.beginArray("destinations");
        for (Destination dest : d.destinations()) {
            j.begin(null).string("remote", dest.remote()).number("established", dest.established())
                    .number("synSent", dest.synSent()).number("timeWait", dest.timeWait())
                    .number("closeWait", dest.closeWait()).decimal("newTimeWaitPerSecond", dest.newTimeWaitPerSecond())
                    .number("portsLeft", dest.portsLeft()).decimal("secondsToExhaustion", dest.secondsToExhaustion())
                    .beginArray("processes");
            for (Owner o : dest.processes()) {
                j.begin(null).number("pid", o.pid()).string("command", o.command())
                        .number("established", o.established()).number("closeWait", o.closeWait())
                        .number("timeWaitAttributed", o.timeWaitAttributed()).end();
            }
            j.endArray().end();
        }
        j.endArray().beginArray("listeners");
        for (Listener l : d.listeners()) {
            j.begin(null).string("local", l.local()).number("timeWait", l.timeWait())
                    .number("closeWait", l.closeWait()).end();
        }
        j.endArray().string("verdict", d.verdict().word).beginArray("advice");
        for (String a : d.advice()) {
            j.string(null, a);
        }
        return j.endArray().end().toString() + "\n";
    }
}
