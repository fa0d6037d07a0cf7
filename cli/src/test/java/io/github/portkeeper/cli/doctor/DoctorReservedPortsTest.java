package io.github.portkeeper.cli.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.portkeeper.cli.CliRun;
import io.github.portkeeper.cli.doctor.Diagnosis.Destination;
import io.github.portkeeper.cli.doctor.Diagnosis.Verdict;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code connect()} never picks a port of {@code net.ipv4.ip_local_reserved_ports}: the doctor's
 * ports left and time to exhaustion count only the rest of the range. Here 40000–40999 with its
 * lower half reserved: 500 ports.
 */
class DoctorReservedPortsTest {

    @TempDir
    Path root;

    private void proc(String reserved) throws Exception {
        try (SyntheticProc p = new SyntheticProc(root)) {
            p.sysctl("ip_local_port_range", "40000\t40999");
            p.sysctl("ip_local_reserved_ports", reserved);
            p.sysctl("tcp_tw_reuse", "0");
            for (int i = 0; i < 300; i++) {
                p.socket("10.0.0.2", 40_500 + i, "10.1.0.1", 5432, SocketRows.ESTABLISHED, 500 + i);
            }
            // A socket bound on purpose to a reserved port takes no port connect() could pick.
            p.socket("10.0.0.2", 40_010, "10.1.0.1", 5432, SocketRows.ESTABLISHED, 499);
        }
    }

    @Test
    void portsLeftAndTheVerdictCountOnlyThePortsConnectMayPick() throws Exception {
        proc("40000-40499");
        Path json = root.resolve("doctor.json");

        CliRun run = CliRun.of("doctor", "--interval", "200ms", "--proc-root", root.toString(), "--json", json.toString());

        // 301 open of 500 usable is over half: at risk (of 1,000 it would be healthy).
        assertThat(run.exitCode()).as("%s", run).isEqualTo(DoctorCommand.AT_RISK);
        String doc = Files.readString(json);
        assertThat(DoctorSyntheticTableTest.objectOf(doc, "\"remote\":\"10.1.0.1:5432\""))
                .contains("\"established\":301", "\"portsLeft\":200");
        assertThat(doc).contains("\"portRange\":[40000,40999]", "\"net.ipv4.ip_local_reserved_ports\":\"40000-40499\"");
        assertThat(run.out()).contains("ip_local_port_range 40000-40999 (1,000 ports, 500 reserved: 500 usable)")
                .contains("500 of them reserved by net.ipv4.ip_local_reserved_ports");
    }

    @Test
    void timeToExhaustionCountsOnlyTheUnreservedPortsLeft() throws Exception {
        proc("40000-40499,50000");
        // 10 new TIME_WAIT/s need 600 ports at 60 s each: more than the 500 usable, not the 1,000 of the range.
        DiagnoserInput input = new DiagnoserInput().sockets("10.1.0.1", 5432, SocketRows.ESTABLISHED, 100, 40_500)
                .sockets("10.1.0.1", 5432, SocketRows.TIME_WAIT, 100, 40_600)
                .newTimeWait("10.1.0.1", 5432, 20);
        Diagnosis d = input.diagnose(new ProcFs(root), Duration.ofSeconds(2));

        Destination db = d.destinations().get(0);
        assertThat(db.verdict()).as("%s\n%s", db, d.advice()).isEqualTo(Verdict.EXHAUSTING);
        assertThat(db.portsLeft()).isEqualTo(300);
        assertThat(db.secondsToExhaustion()).isEqualTo(30.0);
        assertThat(d.advice().get(0)).contains("the 500 usable ports");
    }

    @Test
    void aReservedListNotInTheKernelsFormIsIgnored() throws Exception {
        proc("not a list");
        Diagnosis d = new DiagnoserInput().sockets("10.1.0.1", 5432, SocketRows.ESTABLISHED, 10, 40_500)
                .diagnose(new ProcFs(root), Duration.ofSeconds(1));

        assertThat(d.destinations().get(0).portsLeft()).isEqualTo(990);
    }
}
