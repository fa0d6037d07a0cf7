package io.github.portkeeper.observability;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The shipped rules in a real Prometheus (Debian's {@code prometheus} binary, on loopback, with a
 * temporary data directory): it scrapes two workloads every second, a naive client (a new
 * connection per request, closed by the client: a TIME_WAIT each) and a Portkeeper pool, and
 * its HTTP API must show the TIME_WAIT alert firing for the naive client and not for Portkeeper.
 * The naive client is a Portkeeper pool set up to behave like one (one lease per connection,
 * {@link Retirement#local()}), so that its TIME_WAIT shows in the same meters; on Linux the
 * kernel gauge scraped from it confirms the sockets are real.
 *
 * <p>To stay quick, Prometheus loads a copy of the rules in which every {@code for:} is 5 s;
 * the expressions, thresholds and labels are the shipped ones unchanged (the {@code [5m]} rates
 * need only two scrapes). The full durations are covered by {@code promtool test rules}.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class PrometheusEndToEndTest {

    private static final String ALERT = "PortkeeperClientTimeWaitCaused";
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void timeWaitAlertFiresForTheNaiveClientAndNotForPortkeeper(@TempDir Path dir) throws Exception {
        Path prometheus = Promtool.find("prometheus").orElse(null);
        assumeTrue(prometheus != null, Promtool.MISSING);

        try (Workload naive = new Workload(PoolConfig.builder().name("naive").maxLeasesPerConnection(1)
                     .retirement(Retirement.local()).build());
             Workload pooled = new Workload(PoolConfig.builder().name("pooled").build())) {
            Files.writeString(dir.resolve("rules.yml"), Kit.read(Kit.RULES).replaceAll("(?m)^(\\s+for:) \\S+$", "$1 5s"));
            Files.writeString(dir.resolve("prometheus.yml"), String.join("\n",
                    "global:",
                    "  scrape_interval: 1s",
                    "  evaluation_interval: 1s",
                    "rule_files: [rules.yml]",
                    "scrape_configs:",
                    "  - job_name: naive",
                    "    static_configs: [{targets: ['" + naive.metricsTarget() + "']}]",
                    "  - job_name: portkeeper",
                    "    static_configs: [{targets: ['" + pooled.metricsTarget() + "']}]",
                    ""));
            int port = freePort();
            Path log = dir.resolve("prometheus.log");
            Process server = new ProcessBuilder(prometheus.toString(),
                    "--config.file=" + dir.resolve("prometheus.yml"),
                    "--storage.tsdb.path=" + dir.resolve("data"),
                    "--web.listen-address=127.0.0.1:" + port)
                    .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            String base = "http://127.0.0.1:" + port;
            try {
                await("Prometheus ready").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
                        .ignoreExceptions().until(() -> get(base + "/-/ready").contains("Ready"));
                assertThat(ruleHealth(base)).as("every shipped rule loaded and evaluated")
                        .hasSize(Kit.rules().size()).allMatch("ok"::equals);

                await("the TIME_WAIT alert firing for the naive client").atMost(Duration.ofSeconds(45))
                        .pollInterval(Duration.ofMillis(500)).until(() -> alerts(base, "naive").contains("firing"));

                // Portkeeper was scraped all along, served requests, and caused no TIME_WAIT.
                assertThat(value(base, "portkeeper:timewait_caused:rate5m{job=\"portkeeper\"}")).isEqualTo(0.0);
                assertThat(value(base, "sum(rate(portkeeper_leases_total{job=\"portkeeper\"}[5m]))")).isPositive();
                assertThat(value(base, "portkeeper:timewait_caused:rate5m{job=\"naive\"}")).isPositive();
                assertThat(alerts(base, "portkeeper")).as("no %s alert, pending or firing, for Portkeeper", ALERT).isEmpty();
                if (KernelProbe.linux().isAvailable()) {
                    assertThat(value(base, "portkeeper_tcp_timewait{job=\"naive\"}")).as("kernel TIME_WAIT, naive").isPositive();
                    assertThat(value(base, "portkeeper_tcp_timewait{job=\"portkeeper\"}")).as("kernel TIME_WAIT, Portkeeper").isZero();
                }
                assertThat(naive.failure()).isNull();
                assertThat(pooled.failure()).isNull();
                assertThat(pooled.answered()).isPositive();
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError(e.getMessage() + "\nPrometheus log:\n" + Kit.read(log), e);
            } finally {
                server.destroy();
                if (!server.waitFor(15, TimeUnit.SECONDS)) {
                    server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            }
        }
    }

    /** The states of the TIME_WAIT alert's instances for {@code job}. */
    private List<String> alerts(String base, String job) throws Exception {
        List<String> states = new ArrayList<>();
        for (JsonNode a : Kit.JSON.readTree(get(base + "/api/v1/alerts")).get("data").get("alerts")) {
            if (ALERT.equals(a.get("labels").path("alertname").asString())
                    && job.equals(a.get("labels").path("job").asString())) {
                states.add(a.get("state").asString());
            }
        }
        return states;
    }

    private List<String> ruleHealth(String base) throws Exception {
        List<String> health = new ArrayList<>();
        await("rules evaluated").atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(500)).until(() -> {
            health.clear();
            for (JsonNode g : Kit.JSON.readTree(get(base + "/api/v1/rules")).get("data").get("groups")) {
                for (JsonNode r : g.get("rules")) {
                    health.add(r.get("health").asString());
                }
            }
            return !health.isEmpty() && !health.contains("unknown");
        });
        return health;
    }

    private double value(String base, String query) throws Exception {
        JsonNode result = Kit.JSON.readTree(get(base + "/api/v1/query?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8)))
                .get("data").get("result");
        assertThat(result).as(query).hasSize(1);
        return Double.parseDouble(result.get(0).get("value").get(1).asString());
    }

    private String get(String url) throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as("%s: %s", url, response.body()).isEqualTo(200);
        return response.body();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
