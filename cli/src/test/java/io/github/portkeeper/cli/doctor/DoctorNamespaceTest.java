package io.github.portkeeper.cli.doctor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.github.portkeeper.cli.MiniJson;
import io.github.portkeeper.cli.PortkeeperCli;
import io.github.portkeeper.core.testing.Netns;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * The doctor against real processes in a network namespace this test creates (1,000 ephemeral
 * ports, {@code tcp_tw_reuse=0}): a client opening a connection per request toward server A, a
 * Portkeeper-pooled client toward server B, and a process leaking CLOSE_WAIT toward server C.
 * {@code doctor --json} must report A's new-TIME_WAIT rate within 15% of the rate the client ran
 * at, and the time to exhaustion that rate means for the namespace's range; about no TIME_WAIT
 * toward B; and C's CLOSE_WAIT sockets with the leaking process's pid.
 *
 * <p>The namespace is core's {@link Netns}. Needs Linux, root and iproute2's {@code ip}; skipped
 * otherwise, saying which is missing.
 */
// Its workload runs in a child process in a network namespace of its own, so it runs beside
// this module's other tests (which stay one at a time): see the surefire configuration.
@Execution(ExecutionMode.CONCURRENT)
class DoctorNamespaceTest {

    static final int RANGE_LOW = 40_000;
    static final int RANGE_HIGH = 40_999;
    static final int A = 18_101;
    static final int B = 18_102;
    static final int C = 18_103;
    static final int RATE = 40;
    static final int RUN_SECONDS = 15;
    static final int LEAKED = 5;

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();
    private Netns ns;

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void doctorReportsRateExhaustionPooledQuietAndLeakingProcess() throws Exception {
        ns = Netns.create("pk-doctor");
        ns.sysctl("net.ipv4.ip_local_port_range", RANGE_LOW + " " + RANGE_HIGH);
        ns.sysctl("net.ipv4.tcp_tw_reuse", "0");

        awaitReady(start("servers", "servers", String.valueOf(A), String.valueOf(B), String.valueOf(C)));
        Process naive = start("naive", "naive", String.valueOf(A), String.valueOf(RATE), String.valueOf(RUN_SECONDS));
        Process pooled = start("pooled", "pooled", String.valueOf(B), String.valueOf(RATE), String.valueOf(RUN_SECONDS));
        long leakPid = awaitReady(start("leak", "leak", String.valueOf(C), String.valueOf(LEAKED)));
        awaitReady(naive);
        awaitReady(pooled);

        Path json = dir.resolve("doctor.json");
        Process doctor = new ProcessBuilder(ns.java(PortkeeperCli.class, "doctor", "--interval", "3s", "--json", json.toString()))
                .redirectErrorStream(true).redirectOutput(dir.resolve("doctor.log").toFile()).start();
        processes.add(doctor);
        assertThat(doctor.waitFor(40, TimeUnit.SECONDS)).as("doctor finished").isTrue();
        String doctorLog = Files.readString(dir.resolve("doctor.log"));
        assertThat(doctor.exitValue()).as(doctorLog).isEqualTo(DoctorCommand.EXHAUSTING);
        double actualRate = awaitResult(naive);

        @SuppressWarnings("unchecked")
        Map<String, Object> report = (Map<String, Object>) MiniJson.parse(Files.readString(json));
        String context = doctorLog + "\nclient ran at " + actualRate + "/s";
        Map<String, Object> a = destination(report, A, context);
        Map<String, Object> b = destination(report, B, context);
        Map<String, Object> c = destination(report, C, context);

        double rate = number(a, "newTimeWaitPerSecond");
        assertThat(rate).as("A: new TIME_WAIT/s vs the client's %.1f/s\n%s", actualRate, context)
                .isCloseTo(actualRate, within(actualRate * 0.15));
        int rangeSize = RANGE_HIGH - RANGE_LOW + 1;
        int portsLeft = (int) number(a, "portsLeft");
        int held = (int) (number(a, "timeWait") + number(a, "established") + number(a, "synSent"));
        assertThat(portsLeft).as("A: ports left of the namespace's %d\n%s", rangeSize, context)
                .isBetween(rangeSize - held - 2, rangeSize - held + 2);
        assertThat(number(a, "secondsToExhaustion")).as("A: seconds to exhaustion at %.1f/s\n%s", actualRate, context)
                .isCloseTo(portsLeft / actualRate, within(portsLeft / actualRate * 0.15));
        assertThat(report.get("verdict")).isEqualTo("exhausting");

        assertThat(number(b, "timeWait")).as("B: TIME_WAIT toward the pooled server\n%s", context).isLessThanOrEqualTo(1);
        assertThat(number(b, "newTimeWaitPerSecond")).as("B\n%s", context).isLessThan(0.5);
        assertThat(number(b, "established")).as("B: pooled connections open\n%s", context).isBetween(1.0, 8.0);

        assertThat(number(c, "closeWait")).as("C\n%s", context).isEqualTo(LEAKED);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> owners = (List<Map<String, Object>>) c.get("processes");
        assertThat(owners).as("C: owners\n%s", context).hasSize(1);
        assertThat(number(owners.get(0), "pid")).isEqualTo(leakPid);
        assertThat(number(owners.get(0), "closeWait")).isEqualTo(LEAKED);
        assertThat((String) owners.get(0).get("command")).contains(NamespaceRoles.class.getName(), "leak");
        System.out.printf(Locale.ROOT, "[DoctorNamespaceTest] client %.1f/s, doctor %.1f/s; ports left %d, "
                + "exhaustion in %.1f s%n", actualRate, rate, portsLeft, number(a, "secondsToExhaustion"));
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (Process p : processes) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        if (ns != null) {
            ns.close();
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> destination(Map<String, Object> report, int port, String context) {
        return ((List<Map<String, Object>>) report.get("destinations")).stream()
                .filter(d -> d.get("remote").equals("127.0.0.1:" + port))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no destination 127.0.0.1:" + port + "\n" + context));
    }

    private static double number(Map<String, Object> o, String key) {
        Object v = o.get(key);
        assertThat(v).as("%s in %s", key, o).isInstanceOf(Number.class);
        return ((Number) v).doubleValue();
    }

    private Process start(String name, String... args) throws IOException {
        Process p = new ProcessBuilder(ns.java(NamespaceRoles.class, args))
                .redirectError(dir.resolve(name + ".err").toFile()).start();
        processes.add(p);
        return p;
    }

    /** Reads the process's first line, READY pid=N; returns N. */
    private static long awaitReady(Process p) throws IOException {
        String line = lines(p).readLine();
        assertThat(line).as("first line of a role").startsWith("READY pid=");
        return Long.parseLong(line.substring("READY pid=".length()));
    }

    private static double awaitResult(Process p) throws IOException {
        String line = lines(p).readLine();
        assertThat(line).as("result line of the naive client").startsWith("RESULT ");
        return Double.parseDouble(line.substring(line.indexOf("rate=") + 5));
    }

    private static final Map<Process, BufferedReader> READERS = new java.util.concurrent.ConcurrentHashMap<>();

    private static BufferedReader lines(Process p) {
        return READERS.computeIfAbsent(p, x -> new BufferedReader(
                new InputStreamReader(x.getInputStream(), StandardCharsets.US_ASCII)));
    }
}
