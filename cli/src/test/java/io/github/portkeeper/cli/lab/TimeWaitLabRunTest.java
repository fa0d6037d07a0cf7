package io.github.portkeeper.cli.lab;

import io.github.portkeeper.cli.MiniJson;

import io.github.portkeeper.cli.CliRun;

import io.github.portkeeper.core.KernelProbe;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

import javax.xml.parsers.DocumentBuilderFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * One short run of every mode against the embedded server (500 requests, 8 threads, a 1 s server
 * idle timeout), checked from its JSON, its chart and its table.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TimeWaitLabRunTest {

    private static final int REQUESTS = 500;
    private static final List<String> RUN_KEYS = List.of("mode", "target", "requests", "succeeded", "failed", "errors",
            "requestsPerSecond", "latencyMicros", "connectionsOpened", "clientTimeWait", "serverTimeWait", "closes",
            "timewaitCaused", "timewaitAvoided");

    private CliRun run;
    private Map<String, Map<String, Object>> byMode;
    private String chart;

    @BeforeAll
    void runTheLab(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("lab.json");
        Path svg = dir.resolve("lab.svg");
        run = LabRun.of("--requests", String.valueOf(REQUESTS), "--concurrency", "8", "--server-idle-timeout", "1s",
                "--json", json.toString(), "--chart", svg.toString());
        assertThat(run.exitCode()).as("%s", run).isZero();
        Object doc = MiniJson.parse(Files.readString(json, StandardCharsets.UTF_8));
        assertThat(doc).isInstanceOf(Map.class);
        assertThat(new java.util.ArrayList<Object>(((Map<?, ?>) doc).keySet())).containsExactly("runs");
        byMode = new java.util.LinkedHashMap<>();
        for (Object r : (List<?>) ((Map<?, ?>) doc).get("runs")) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) r;
            byMode.put((String) m.get("mode"), m);
        }
        chart = Files.readString(svg, StandardCharsets.UTF_8);
    }

    @Test
    void jsonHasOneRunPerModeInTheDesignShapePlusTarget() {
        assertThat(byMode.keySet()).containsExactly("naive", "httpclient", "portkeeper");
        for (Map<String, Object> r : byMode.values()) {
            assertThat(r.keySet()).as("keys of %s", r.get("mode")).containsExactlyElementsOf(RUN_KEYS);
            assertThat((String) r.get("target")).matches("127\\.0\\.0\\.1:\\d+");
            assertThat(num(r, "requests")).isEqualTo(REQUESTS);
            assertThat(num(r, "succeeded") + num(r, "failed")).isEqualTo(REQUESTS);
            assertThat(r.get("errors")).isInstanceOf(Map.class);
            assertThat(((Number) r.get("requestsPerSecond")).doubleValue()).isPositive();
            assertThat(map(r, "latencyMicros").keySet()).containsExactly("p50", "p99");
            assertThat(num(map(r, "latencyMicros"), "p99")).isGreaterThanOrEqualTo(num(map(r, "latencyMicros"), "p50"));
            assertThat(map(r, "clientTimeWait").keySet()).containsExactly("peak", "end");
            assertThat(map(r, "serverTimeWait").keySet()).containsExactly("peak", "end");
            assertThat(map(r, "closes").keySet()).containsExactly("peer", "local", "reset");
        }
    }

    @Test
    void everyModeTalksToAServerPortOfItsOwn() {
        assertThat(byMode.values().stream().map(r -> r.get("target")).distinct()).hasSize(3);
    }

    @Test
    void portkeeperFailsNothingLeavesNoClientTimeWaitAndAvoidsAtLeastNinetyNinePercent() {
        Map<String, Object> pk = byMode.get("portkeeper");

        assertThat(num(pk, "failed")).as("%s", run).isZero();
        assertThat(num(pk, "timewaitAvoided")).as("%s", run).isGreaterThanOrEqualTo((long) Math.ceil(REQUESTS * 0.99));
        assertThat(num(pk, "connectionsOpened")).as("reused: %s", run).isBetween(1L, 25L);
        assertThat(num(map(pk, "closes"), "local")).as("%s", run).isZero();
        assertThat(num(pk, "timewaitCaused")).as("%s", run).isZero();
        assumeTrue(KernelProbe.linux().isAvailable(), "the kernel probe needs Linux");
        assertThat(num(map(pk, "clientTimeWait"), "peak")).as("%s", run).isZero();
        assertThat(num(map(pk, "clientTimeWait"), "end")).as("%s", run).isZero();
    }

    @Test
    void naiveLeavesATimeWaitPerRequestOnThisHost() {
        Map<String, Object> naive = byMode.get("naive");

        assertThat(num(naive, "failed")).as("%s", run).isZero();
        assertThat(num(naive, "connectionsOpened")).isEqualTo(REQUESTS);
        assertThat(num(map(naive, "closes"), "local")).isEqualTo(REQUESTS);
        assertThat(num(naive, "timewaitCaused")).isEqualTo(REQUESTS);
        assertThat(num(naive, "timewaitAvoided")).isZero();
        assumeTrue(KernelProbe.linux().isAvailable(), "the kernel probe needs Linux");
        assertThat(num(map(naive, "clientTimeWait"), "end")).as("%s", run)
                .isGreaterThanOrEqualTo((long) (REQUESTS * 0.9)).isLessThanOrEqualTo(REQUESTS);
        assertThat(num(map(naive, "serverTimeWait"), "end")).as("the client closed first, never the server\n%s", run).isZero();
    }

    @Test
    void httpclientReusesConnections() {
        Map<String, Object> hc = byMode.get("httpclient");

        assertThat(num(hc, "failed")).as("%s", run).isZero();
        assertThat(num(hc, "connectionsOpened")).as("reused: %s", run).isBetween(1L, 25L);
    }

    @Test
    void tableShowsEveryModeAndEndsWithAVerdict() {
        assertThat(run.out()).contains("naive", "httpclient", "portkeeper", "client TIME_WAIT peak / end",
                "server TIME_WAIT peak / end", "timewait.caused", "timewait.avoided", "Verdict: ");
        assertThat(run.err()).as("progress line rewritten in place").contains("\r");
    }

    @Test
    void chartIsWellFormedSvgWithALinePerMode() throws Exception {
        Document svg = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new java.io.ByteArrayInputStream(chart.getBytes(StandardCharsets.UTF_8)));

        assertThat(svg.getDocumentElement().getTagName()).isEqualTo("svg");
        assertThat(svg.getElementsByTagName("polyline").getLength()).isEqualTo(3);
        assertThat(chart).doesNotContain("href=").contains("naive", "httpclient", "portkeeper");
    }

    private static long num(Map<String, Object> m, String key) {
        Object v = m.get(key);
        assertThat(v).as("%s in %s", key, m).isInstanceOf(Number.class);
        return ((Number) v).longValue();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Map<String, Object> m, String key) {
        assertThat(m.get(key)).as("%s in %s", key, m).isInstanceOf(Map.class);
        return (Map<String, Object>) m.get(key);
    }
}
