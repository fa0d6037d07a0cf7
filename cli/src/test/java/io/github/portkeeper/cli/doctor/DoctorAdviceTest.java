package io.github.portkeeper.cli.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.portkeeper.cli.CliRun;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The advice for a destination that runs out of ports names what used them up. */
class DoctorAdviceTest {

    @TempDir
    Path root;

    @Test
    void portsHeldByOpenConnectionsAreBlamedOnTheOpenConnectionsNotOnTimeWait() throws Exception {
        long[] inodes = new long[10];
        try (SyntheticProc p = new SyntheticProc(root)) {
            p.sysctl("ip_local_port_range", "40000\t40009");
            for (int i = 0; i < inodes.length; i++) {
                inodes[i] = 700 + i;
                p.socket("10.0.0.2", 40_000 + i, "10.1.0.1", 5432, SocketRows.ESTABLISHED, inodes[i]);
            }
            p.process(77, "java -jar orders.jar", inodes);
        }

        CliRun run = CliRun.of("doctor", "--interval", "200ms", "--proc-root", root.toString());

        assertThat(run.exitCode()).as("%s", run).isEqualTo(DoctorCommand.EXHAUSTING);
        String advice = run.out().lines().filter(l -> l.contains("10.1.0.1:5432:")).findFirst().orElseThrow();
        assertThat(advice).as("%s", run).doesNotContain("needs 0 ports", "new client TIME_WAIT/s")
                .contains("10 open", "no port is left", "pid 77 (java -jar orders.jar)");
    }

    @Test
    void aTimeWaitRateBeyondTheRangeIsExplainedByTheRate() {
        Diagnosis.Host host = new Diagnosis.Host("6.1.0", 40_000, 40_009, 0, Map.of(), null, Map.of(), 4);
        Diagnosis.Destination dest = new Diagnosis.Destination("10.1.0.1:5432", 1, 0, 3, 0, 3, 1.5, 0, 6, 4.0,
                List.of(), Diagnosis.Verdict.EXHAUSTING, false);
        Diagnosis d = new Diagnosis(host, Duration.ofSeconds(2), 10, List.of(dest), List.of(),
                Diagnosis.Verdict.EXHAUSTING, List.of());

        assertThat(Advice.of(d).get(0)).contains("1.5 new client TIME_WAIT/s needs 90 ports at 60 s each",
                "more than the 10 of ip_local_port_range", "ports run out in about 4 s", "reuse connections");
    }
}
