package io.github.portkeeper.observability;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.PortkeeperHttpClients;
import io.github.portkeeper.rpc.LineCodec;
import io.github.portkeeper.rpc.RpcClient;
import io.github.portkeeper.rpc.micrometer.RpcMetrics;
import io.github.resilience4j.micrometer.tagged.TaggedRetryMetrics;
import io.github.resilience4j.retry.RetryRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Grafana dashboard: valid JSON whose every query names only series that exist: Portkeeper's
 * meters as the exposition test proves them, and the Resilience4j retry meter as a Prometheus
 * registry exposes it here for an RPC client bound with {@link RpcMetrics}.
 */
class DashboardTest {

    private static final Pattern NAME_MATCHER = Pattern.compile("\\bname=~\"([^\"]*)\"");
    private static final Pattern RETRY_NAME = Pattern.compile("resilience4j_retry_calls_total\\{[^}]*\\bname=\"([^\"]*)\"");

    @Test
    void everyQueryNamesOnlySeriesThatAreExposed() throws IOException {
        Set<String> known = new LinkedHashSet<>(Kit.listedSampleNames());
        known.addAll(retrySampleNames());
        List<String> exprs = Kit.dashboardExprs();
        assertThat(exprs).isNotEmpty();
        for (String expr : exprs) {
            Set<String> used = Kit.metricNames(expr);
            assertThat(used).as(expr).isNotEmpty();
            assertThat(known).as("series exposed, for %s", expr).containsAll(used);
        }
        for (JsonNode variable : Kit.dashboard().get("templating").get("list")) {
            if ("query".equals(variable.path("type").asString())) {
                assertThat(known).as(variable.get("name").asString())
                        .containsAll(Kit.metricNames(variable.get("definition").asString()));
            }
        }
    }

    @Test
    void showsWhatAnOperatorNeedsPerPoolAndEndpoint() throws IOException {
        JsonNode d = Kit.dashboard();
        List<String> variables = new ArrayList<>();
        d.get("templating").get("list").forEach(v -> variables.add(v.get("name").asString()));
        assertThat(variables).contains("datasource", "pool", "endpoint");
        Set<String> used = new LinkedHashSet<>();
        for (String expr : Kit.dashboardExprs()) {
            used.addAll(Kit.metricNames(expr));
            assertThat(expr).as("filtered by the pool variable").contains("$pool");
        }
        assertThat(used).contains("portkeeper_connections", "portkeeper_connections_opened_total",
                "portkeeper_connections_closed_total", "portkeeper_timewait_caused_total", "portkeeper_timewait_avoided_total",
                "portkeeper_tcp_timewait", "portkeeper_tcp_closewait", "portkeeper_ports_budget_used",
                "portkeeper_lease_wait_seconds", "resilience4j_retry_calls_total");
        List<String> titles = new ArrayList<>();
        d.get("panels").forEach(p -> titles.add(p.get("title").asString()));
        assertThat(titles).doesNotHaveDuplicates();
    }

    @Test
    void theRetryPanelMatchesTheRetryMeterOfAnRpcClient() {
        assertThat(retrySampleNames()).containsExactly("resilience4j_retry_calls_total");
    }

    @Test
    void theRetryPanelShowsTheRetryOfTheSelectedPoolsRpcAndHttpClients() throws IOException {
        String rpcRetry = retryName(rpcRetryScrape("orders"));
        String httpRetry = retryName(httpRetryScrape("orders"));
        assertThat(rpcRetry).isEqualTo("orders");
        assertThat(httpRetry).isEqualTo("portkeeper-orders");
        String matcher = retryPanelNameMatcher();
        // The pool variable as Grafana writes it: one pool, several, and All (allValue ".*").
        for (String pool : List.of("orders", "(orders|billing)", ".*")) {
            Pattern selected = Pattern.compile(matcher.replace("$pool", pool));
            assertThat(selected.matcher(rpcRetry).matches()).as("%s matches %s", selected, rpcRetry).isTrue();
            assertThat(selected.matcher(httpRetry).matches()).as("%s matches %s", selected, httpRetry).isTrue();
        }
        Pattern other = Pattern.compile(matcher.replace("$pool", "billing"));
        assertThat(other.matcher(rpcRetry).matches()).as("%s leaves out %s", other, rpcRetry).isFalse();
        assertThat(other.matcher(httpRetry).matches()).as("%s leaves out %s", other, httpRetry).isFalse();
    }

    /** The regular expression the Retries panel matches the retry's {@code name} label with (PromQL anchors it). */
    private static String retryPanelNameMatcher() throws IOException {
        for (JsonNode panel : Kit.dashboard().get("panels")) {
            if ("Retries".equals(panel.get("title").asString())) {
                Matcher m = NAME_MATCHER.matcher(panel.get("targets").get(0).get("expr").asString());
                assertThat(m.find()).as("a name=~ matcher in the Retries panel").isTrue();
                return m.group(1);
            }
        }
        throw new AssertionError("no Retries panel");
    }

    private static String retryName(String scrape) {
        Matcher m = RETRY_NAME.matcher(scrape);
        assertThat(m.find()).as(scrape).isTrue();
        return m.group(1);
    }

    /** The Prometheus scrape of an HTTP client's retry, bound as docs/metrics.md shows: from onRetryCreated. */
    private static String httpRetryScrape(String pool) throws IOException {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        RetryRegistry retries = RetryRegistry.ofDefaults();
        TaggedRetryMetrics.ofRetryRegistry(retries).bindTo(registry);
        try (CloseableHttpClient client = PortkeeperHttpClients.custom()
                .poolConfig(PoolConfig.builder().name(pool).build())
                .onRetryCreated(retry -> {
                    retries.retry(retry.getName());
                    retries.replace(retry.getName(), retry);
                })
                .build()) {
            return registry.scrape();
        } finally {
            registry.close();
        }
    }

    private static String rpcRetryScrape(String pool) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (RpcClient<String, String> client = RpcClient.builder(LineCodec.utf8(64))
                .poolConfig(PoolConfig.builder().name(pool).build()).build()) {
            RpcMetrics.bind(client, registry);
            return registry.scrape();
        } finally {
            registry.close();
        }
    }

    /**
     * Binds an RPC client's meters to a Prometheus registry and returns the retry sample names,
     * after checking the labels the dashboard filters on: {@code name} is the pool's name and
     * {@code kind} takes the with-retry values.
     */
    private static Set<String> retrySampleNames() {
        Set<String> names = new LinkedHashSet<>();
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (RpcClient<String, String> client = RpcClient.builder(LineCodec.utf8(64))
                .poolConfig(PoolConfig.builder().name("orders").build()).build()) {
            RpcMetrics.bind(client, registry);
            String scrape = registry.scrape();
            for (String line : scrape.split("\n")) {
                if (line.startsWith("resilience4j_retry")) {
                    names.add(line.substring(0, line.indexOf('{')));
                }
            }
            assertThat(scrape).contains("resilience4j_retry_calls_total{kind=\"successful_with_retry\",name=\"orders\"}",
                    "resilience4j_retry_calls_total{kind=\"failed_with_retry\",name=\"orders\"}");
        } finally {
            registry.close();
        }
        return names;
    }
}
