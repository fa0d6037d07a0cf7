package io.github.portkeeper.cli.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.portkeeper.cli.doctor.Diagnosis.Destination;
import io.github.portkeeper.cli.doctor.Diagnosis.Verdict;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With {@code net.ipv4.tcp_tw_reuse} 1 (any destination) or 2 (loopback only, the default),
 * {@code connect()} reuses a 4-tuple whose TIME_WAIT is more than a second old (timestamps on),
 * so TIME_WAIT toward such a destination does not use up its ports however fast it comes. The
 * same rate toward a destination without reuse does. Each case: 1,000 ephemeral ports, 100 new
 * client TIME_WAIT/s toward a loopback server and toward a remote one (6,000 ports at 60 s each).
 */
class DoctorTimeWaitReuseTest {

    static final Duration WINDOW = Duration.ofSeconds(2);

    @TempDir
    Path root;

    private Diagnosis diagnose(String twReuse, String timestamps) throws Exception {
        try (SyntheticProc p = new SyntheticProc(root)) {
            p.sysctl("ip_local_port_range", "40000\t40999");
            p.sysctl("tcp_tw_reuse", twReuse);
            p.sysctl("tcp_timestamps", timestamps);
        }
        return new DiagnoserInput()
                .sockets("127.0.0.1", 8080, SocketRows.TIME_WAIT, 200, 40_000)
                .sockets("10.1.0.1", 5432, SocketRows.TIME_WAIT, 200, 40_000)
                .newTimeWait("127.0.0.1", 8080, 200)
                .newTimeWait("10.1.0.1", 5432, 200)
                .diagnose(new ProcFs(root), WINDOW);
    }

    private static Destination destination(Diagnosis d, String remote) {
        return d.destinations().stream().filter(x -> x.remote().equals(remote)).findFirst().orElseThrow();
    }

    private static List<String> adviceFor(Diagnosis d, String remote) {
        return d.advice().stream().filter(a -> a.startsWith(remote + ":")).toList();
    }

    @Test
    void loopbackTimeWaitUnderTheDefaultReuseIsNotExhaustingButRemoteTimeWaitIs() throws Exception {
        Diagnosis d = diagnose("2", "1");

        Destination loopback = destination(d, "127.0.0.1:8080");
        assertThat(loopback.newTimeWaitPerSecond()).isEqualTo(100.0);
        assertThat(loopback.verdict()).as("%s\n%s", loopback, d.advice()).isEqualTo(Verdict.HEALTHY);
        assertThat(loopback.secondsToExhaustion()).isNull();
        // Only the TIME_WAIT of the last second or two holds ports: 100/s × 2 s.
        assertThat(loopback.portsLeft()).isEqualTo(800);
        assertThat(adviceFor(d, "127.0.0.1:8080")).as("%s", d.advice()).singleElement().asString()
                .contains("net.ipv4.tcp_tw_reuse 2", "more than 1 s old", "do not use up")
                .doesNotContain("exhausting", "run out");

        Destination remote = destination(d, "10.1.0.1:5432");
        assertThat(remote.verdict()).isEqualTo(Verdict.EXHAUSTING);
        assertThat(remote.portsLeft()).isEqualTo(800);
        assertThat(remote.secondsToExhaustion()).isEqualTo(8.0);
        assertThat(d.verdict()).isEqualTo(Verdict.EXHAUSTING);
    }

    @Test
    void reuseForAllDestinationsKeepsRemoteTimeWaitFromExhaustingToo() throws Exception {
        Diagnosis d = diagnose("1", "1");

        assertThat(destination(d, "127.0.0.1:8080").verdict()).isEqualTo(Verdict.HEALTHY);
        Destination remote = destination(d, "10.1.0.1:5432");
        assertThat(remote.verdict()).as("%s\n%s", remote, d.advice()).isEqualTo(Verdict.HEALTHY);
        assertThat(remote.secondsToExhaustion()).isNull();
        assertThat(adviceFor(d, "10.1.0.1:5432")).singleElement().asString()
                .contains("net.ipv4.tcp_tw_reuse 1").doesNotContain("run out");
        assertThat(d.verdict()).isEqualTo(Verdict.HEALTHY);
    }

    @Test
    void withoutReuseOrWithoutTimestampsLoopbackTimeWaitExhaustsAsAnyOther() throws Exception {
        for (String[] setting : new String[][] {{"0", "1"}, {"2", "0"}}) {
            Diagnosis d = diagnose(setting[0], setting[1]);
            Destination loopback = destination(d, "127.0.0.1:8080");
            assertThat(loopback.verdict()).as("tcp_tw_reuse %s, tcp_timestamps %s", setting[0], setting[1])
                    .isEqualTo(Verdict.EXHAUSTING);
            assertThat(loopback.portsLeft()).isEqualTo(800);
            assertThat(loopback.secondsToExhaustion()).isEqualTo(8.0);
            assertThat(adviceFor(d, "127.0.0.1:8080")).anySatisfy(a -> assertThat(a).contains("ports run out in about 8 s"));
        }
    }
}
