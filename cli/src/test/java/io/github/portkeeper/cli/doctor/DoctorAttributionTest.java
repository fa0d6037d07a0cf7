package io.github.portkeeper.cli.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.portkeeper.cli.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What one read of the table cannot tell: a 4-tuple seen ESTABLISHED, owned by a process, and
 * later in TIME_WAIT is a new TIME_WAIT attributed to that process; one never seen ESTABLISHED
 * is new but unattributed; one already in TIME_WAIT at the first read is not new. State carries
 * from one interval to the next, as with {@code --watch}.
 */
class DoctorAttributionTest {

    @TempDir
    Path root;

    @Test
    void timeWaitIsAttributedToTheProcessThatHeldTheTupleWhenLastSeenEstablished() throws Exception {
        try (SyntheticProc p = new SyntheticProc(root)) {
            p.socket("10.0.0.2", 40_001, "10.1.0.1", 5432, SocketRows.ESTABLISHED, 501);
            p.socket("10.0.0.2", 40_002, "10.1.0.1", 5432, SocketRows.TIME_WAIT, 0); // old: not new
            p.process(77, "java -jar orders.jar", 501);
        }
        ProcFs proc = new ProcFs(root);
        Sampler sampler = new Sampler(proc);
        Diagnosis first = Diagnoser.diagnose(proc, sampler.run(Duration.ofMillis(200)), sampler.owners(),
                Duration.ofMillis(200));
        assertThat(first.destinations()).singleElement().satisfies(d -> {
            assertThat(d.newTimeWait()).isZero();
            assertThat(d.processes()).singleElement().satisfies(o -> {
                assertThat(o.pid()).isEqualTo(77);
                assertThat(o.established()).isEqualTo(1);
            });
        });

        Files.delete(root.resolve("proc/net/tcp"));
        try (SyntheticProc p = new SyntheticProc(root)) {
            p.socket("10.0.0.2", 40_001, "10.1.0.1", 5432, SocketRows.TIME_WAIT, 0); // was ESTABLISHED, pid 77
            p.socket("10.0.0.2", 40_002, "10.1.0.1", 5432, SocketRows.TIME_WAIT, 0); // still the old one
            p.socket("10.0.0.2", 40_003, "10.1.0.1", 5432, SocketRows.TIME_WAIT, 0); // never seen open
        }
        Diagnosis second = Diagnoser.diagnose(proc, sampler.run(Duration.ofMillis(200)), sampler.owners(),
                Duration.ofMillis(200));
        assertThat(second.destinations()).singleElement().satisfies(d -> {
            assertThat(d.timeWait()).isEqualTo(3);
            assertThat(d.newTimeWait()).isEqualTo(2);
            assertThat(d.unattributedTimeWait()).isEqualTo(1);
            assertThat(d.processes()).singleElement().satisfies(o -> {
                assertThat(o.pid()).isEqualTo(77);
                assertThat(o.command()).isEqualTo("java -jar orders.jar");
                assertThat(o.established()).isZero();
                assertThat(o.timeWaitAttributed()).isEqualTo(1);
            });
        });
    }

    @Test
    void watchForgetsTheOwnersOfSocketsThatAreGone() throws Exception {
        ProcFs proc = new ProcFs(root);
        Sampler sampler = null;
        for (int interval = 0; interval < 5; interval++) {
            long[] inodes = new long[100];
            Files.deleteIfExists(root.resolve("proc/net/tcp"));
            try (SyntheticProc p = new SyntheticProc(root)) {
                for (int i = 0; i < inodes.length; i++) {
                    inodes[i] = 10_000L * (interval + 1) + i; // fresh sockets every interval
                    p.socket("10.0.0.2", 40_000 + i, "10.1.0.1", 5432, SocketRows.ESTABLISHED, inodes[i]);
                }
                p.process(77, "java -jar orders.jar", inodes);
            }
            if (sampler == null) {
                sampler = new Sampler(proc);
            }
            Diagnoser.diagnose(proc, sampler.run(Duration.ofMillis(100)), sampler.owners(), Duration.ofMillis(100));
        }

        assertThat(sampler.owners().rememberedSockets()).as("owners remembered after 5 intervals of 100 new sockets")
                .isEqualTo(100);
        assertThat(sampler.owners().rememberedCommands()).isEqualTo(1);
    }

    @Test
    void aPidReusedByAnotherProcessIsShownWithTheNewCommand() throws Exception {
        try (SyntheticProc p = new SyntheticProc(root)) {
            p.socket("10.0.0.2", 40_001, "10.1.0.1", 5432, SocketRows.ESTABLISHED, 501);
            p.process(77, 1_000, "java -jar orders.jar", 501);
        }
        ProcFs proc = new ProcFs(root);
        Sampler sampler = new Sampler(proc);
        Diagnosis first = Diagnoser.diagnose(proc, sampler.run(Duration.ofMillis(100)), sampler.owners(),
                Duration.ofMillis(100));
        assertThat(first.destinations()).singleElement().satisfies(d -> assertThat(d.processes()).singleElement()
                .satisfies(o -> assertThat(o.command()).isEqualTo("java -jar orders.jar")));

        Files.delete(root.resolve("proc/net/tcp"));
        try (SyntheticProc p = new SyntheticProc(root)) {
            p.socket("10.0.0.2", 40_002, "10.1.0.1", 5432, SocketRows.ESTABLISHED, 601);
            p.process(77, 2_000, "python3 worker.py", 601); // orders.jar ended; its pid went to another process
        }
        Diagnosis second = Diagnoser.diagnose(proc, sampler.run(Duration.ofMillis(100)), sampler.owners(),
                Duration.ofMillis(100));

        assertThat(second.destinations()).singleElement().satisfies(d -> assertThat(d.processes()).singleElement()
                .satisfies(o -> {
                    assertThat(o.pid()).isEqualTo(77);
                    assertThat(o.command()).isEqualTo("python3 worker.py");
                }));
    }

    @Test
    void watchRefreshesUntilItsCount() throws Exception {
        try (SyntheticProc p = new SyntheticProc(root)) {
            p.socket("10.0.0.2", 40_001, "10.1.0.1", 5432, SocketRows.ESTABLISHED, 501);
        }
        CliRun run = CliRun.of("doctor", "--watch", "--count", "3", "--interval", "200ms", "--proc-root", root.toString());

        assertThat(run.exitCode()).as("%s", run).isZero();
        assertThat(run.out().split("Portkeeper doctor:", -1)).as("%s", run).hasSize(4);
        assertThat(run.out()).contains("10.1.0.1:5432", "verdict: healthy");
    }

    @Test
    void ipv6AndMappedAddressesAreShownAsTheKernelMeansThem() {
        TcpTableReader reader = new TcpTableReader(java.nio.ByteOrder.LITTLE_ENDIAN);
        SocketRows rows = new SocketRows();
        byte[] v6 = ("   0: 00000000000000000000000001000000:1F90 0000000000000000FFFF00000100007F:C350 01"
                + " 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 20 4 30 10 -1").getBytes();
        reader.parseLine(v6, 0, v6.length, rows);
        assertThat(rows.size).isEqualTo(1);
        assertThat(SocketRows.format(rows.localHi[0], rows.localLo[0], rows.localPort(0))).isEqualTo("[0:0:0:0:0:0:0:1]:8080");
        assertThat(SocketRows.format(rows.remoteHi[0], rows.remoteLo[0], rows.remotePort(0))).isEqualTo("127.0.0.1:50000");
        assertThat(rows.inodes[0]).isEqualTo(4242);
        assertThat(Map.of("state", rows.state(0))).containsEntry("state", SocketRows.ESTABLISHED);
    }
}
