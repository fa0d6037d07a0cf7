package io.github.portkeeper.cli.lab;

import io.github.portkeeper.cli.MiniJson;

import io.github.portkeeper.cli.CliRun;
import io.github.portkeeper.cli.PortkeeperCli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code --starved} for real: in a network namespace with 1,000 ephemeral ports and
 * {@code tcp_tw_reuse=0}, 3,000 naive requests run out of ports (EADDRNOTAVAIL) while Portkeeper
 * serves all of them. Needs Linux, root and iproute2; skipped elsewhere.
 */
class StarvedLabTest {

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void naiveRunsOutOfPortsWhilePortkeeperServesEveryRequest() throws Exception {
        Optional<String> why = Starved.unavailableReason();
        assumeTrue(why.isEmpty(), () -> "--starved cannot run here: " + why.orElse(""));
        Path json = dir.resolve("starved.json");

        CliRun run = LabRun.of("--starved", "--mode", "naive,portkeeper", "--requests", "3000",
                "--server-idle-timeout", "500ms", "--json", json.toString());

        // Root with iproute2 may still be refused a namespace (a container without CAP_SYS_ADMIN):
        // a skip. Any later setup step that fails is the lab's own failure, not the machine's.
        assumeFalse(run.exitCode() == 2 && run.err().contains("cannot create a network namespace"),
                () -> "--starved cannot run here: " + run.err());
        assertThat(run.exitCode()).as("%s", run).isZero();
        assertThat(run.out()).as("%s", run).contains("ephemeral ports 40000-40999 (1,000), tcp_tw_reuse=0");
        Map<String, Map<String, Object>> byMode = new java.util.HashMap<>();
        for (Object r : (List<?>) ((Map<?, ?>) MiniJson.parse(Files.readString(json, StandardCharsets.UTF_8))).get("runs")) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) r;
            byMode.put((String) m.get("mode"), m);
        }
        Map<?, ?> naiveErrors = (Map<?, ?>) byMode.get("naive").get("errors");
        assertThat(naiveErrors.get("EADDRNOTAVAIL")).as("%s", run).isInstanceOf(Number.class);
        assertThat(((Number) naiveErrors.get("EADDRNOTAVAIL")).longValue()).as("%s", run).isGreaterThanOrEqualTo(1_000);
        // 1,000 ports and no TIME_WAIT reuse: the connections the naive client closed first hold a
        // port each for 60 s, so at most 1,000 of them. A connection the server closed first (the
        // client stalled past the 500 ms idle timeout between response and close on a loaded host)
        // leaves no TIME_WAIT here and frees its port: it may succeed beyond the 1,000.
        Map<?, ?> naive = byMode.get("naive");
        Map<?, ?> naiveCloses = (Map<?, ?>) naive.get("closes");
        long local = ((Number) naiveCloses.get("local")).longValue();
        long serverFirst = ((Number) naiveCloses.get("peer")).longValue();
        long succeeded = ((Number) naive.get("succeeded")).longValue();
        assertThat(local).as("naive connections closed first here, each a TIME_WAIT on one of 1,000 ports; %s", run)
                .isBetween(900L, 1_000L);
        assertThat(((Number) ((Map<?, ?>) naive.get("clientTimeWait")).get("peak")).longValue())
                .as("the kernel's count of them; %s", run).isBetween(900L, 1_000L);
        assertThat(succeeded).as("naive successes: a port each, beyond 1,000 only by ports the server freed; %s", run)
                .isBetween(900L, 1_000L + serverFirst);
        assertThat(local + serverFirst + ((Number) naiveCloses.get("reset")).longValue())
                .as("every naive connection ended one of three ways; %s", run)
                .isEqualTo(((Number) naive.get("connectionsOpened")).longValue());
        assertThat(((Number) byMode.get("portkeeper").get("failed")).longValue()).as("%s", run).isZero();
        assertThat((Map<?, ?>) byMode.get("portkeeper").get("errors")).as("%s", run).isEmpty();
        assertThat(run.out()).contains("EADDRNOTAVAIL", "Verdict: The naive client ran out of ports");
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void stoppingTheLabStopsItsRunInTheNamespaceAndDeletesTheNamespace() throws Exception {
        Optional<String> why = Starved.unavailableReason();
        assumeTrue(why.isEmpty(), () -> "--starved cannot run here: " + why.orElse(""));
        String javaCommand = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path err = dir.resolve("lab.err");
        Process lab = new ProcessBuilder(javaCommand, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                PortkeeperCli.class.getName(), "lab", "--starved", "--mode", "naive", "--requests", "10000000")
                .redirectError(err.toFile()).start();
        ProcessHandle child = null;
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(lab.getInputStream(), StandardCharsets.UTF_8));
            String prefix = "--starved: running the lab in network namespace ";
            String line;
            do {
                line = out.readLine();
            } while (line != null && !line.startsWith(prefix));
            String started = line;
            assumeFalse(started == null && Files.readString(err).contains("cannot create a network namespace"),
                    () -> "--starved cannot run here: " + readQuietly(err));
            assertThat(started).as("the lab's announcement; stderr: %s", readQuietly(err)).isNotNull();
            String ns = started.substring(prefix.length(), started.indexOf(':', prefix.length()));
            Thread drain = new Thread(() -> {
                try {
                    out.transferTo(Writer.nullWriter());
                } catch (IOException gone) {
                    // the lab ended
                }
            });
            drain.setDaemon(true);
            drain.start();
            ProcessHandle[] run = new ProcessHandle[1];
            await("the lab's run in the namespace").atMost(Duration.ofSeconds(30)).until(() -> {
                run[0] = lab.descendants().filter(h -> h.info().commandLine().orElse("")
                        .contains(PortkeeperCli.class.getName())).findFirst().orElse(null);
                return run[0] != null;
            });
            child = run[0];

            lab.destroy(); // SIGTERM to the lab only, as a terminal's kill or a service manager sends it

            assertThat(lab.waitFor(30, TimeUnit.SECONDS)).as("the lab stopped").isTrue();
            ProcessHandle orphan = child;
            await("the run in the namespace stopped").atMost(Duration.ofSeconds(30)).until(() -> !orphan.isAlive());
            Process list = new ProcessBuilder("ip", "netns", "list").redirectErrorStream(true).start();
            String namespaces = new String(list.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            list.waitFor(10, TimeUnit.SECONDS);
            assertThat(namespaces).as("namespaces after the lab stopped").doesNotContain(ns);
        } finally {
            lab.destroyForcibly();
            if (child != null) {
                child.destroyForcibly();
            }
        }
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }
}
