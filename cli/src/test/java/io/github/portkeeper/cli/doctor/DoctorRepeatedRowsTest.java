package io.github.portkeeper.cli.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel prints {@code /proc/net/tcp} a page at a time, and while sockets come and go a row
 * already printed can come out again in a later page (the socket's hash chain changed between
 * the two pages), sometimes in a newer state. Every connection counts once, in its last state.
 */
class DoctorRepeatedRowsTest {

    @TempDir
    Path root;

    @Test
    void aConnectionPrintedTwiceInOneReadCountsOnceInItsLastState() throws Exception {
        try (SyntheticProc p = new SyntheticProc(root)) {
            p.socket("0.0.0.0", 8080, "0.0.0.0", 0, SocketRows.LISTEN, 900);
            p.socket("0.0.0.0", 8080, "0.0.0.0", 0, SocketRows.LISTEN, 901); // SO_REUSEPORT: both count
            for (int i = 0; i < 5; i++) {
                p.socket("10.0.0.2", 40_100 + i, "10.1.0.1", 5432, SocketRows.CLOSE_WAIT, 500 + i);
            }
            p.socket("10.0.0.2", 40_200, "10.1.0.1", 5432, SocketRows.ESTABLISHED, 600);
            // the next page: two CLOSE_WAIT rows again, and the open connection now in TIME_WAIT
            p.socket("10.0.0.2", 40_103, "10.1.0.1", 5432, SocketRows.CLOSE_WAIT, 503);
            p.socket("10.0.0.2", 40_104, "10.1.0.1", 5432, SocketRows.CLOSE_WAIT, 504);
            p.socket("10.0.0.2", 40_200, "10.1.0.1", 5432, SocketRows.TIME_WAIT, 0);
            p.process(77, "python3 leaky.py", 500, 501, 502, 503, 504);
        }

        SocketRows rows = new SocketRows();
        new TcpTableReader().read(root.resolve("proc/net/tcp"), root.resolve("proc/net/tcp6"), rows);
        assertThat(rows.size).as("2 listeners and 6 connections").isEqualTo(8);

        ProcFs proc = new ProcFs(root);
        Sampler sampler = new Sampler(proc);
        Diagnosis diagnosis = Diagnoser.diagnose(proc, sampler.run(Duration.ofMillis(200)), sampler.owners(),
                Duration.ofMillis(200));
        assertThat(diagnosis.destinations()).singleElement().satisfies(d -> {
            assertThat(d.closeWait()).isEqualTo(5);
            assertThat(d.established()).isZero();
            assertThat(d.timeWait()).isEqualTo(1);
            assertThat(d.portsLeft()).isEqualTo(28_232 - 6);
            assertThat(d.processes()).singleElement().satisfies(o -> assertThat(o.closeWait()).isEqualTo(5));
        });
    }
}
