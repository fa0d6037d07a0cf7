package io.github.portkeeper.observability;

import io.github.portkeeper.core.internal.MeterList;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The shipped observability files, read as the tests need them. */
final class Kit {

    static final Path RULES = Path.of("prometheus", "portkeeper-rules.yml");
    static final Path RULE_TESTS = Path.of("prometheus", "portkeeper-rules.test.yml");
    static final Path DASHBOARD = Path.of("grafana", "portkeeper-dashboard.json");
    static final Path DOCS = Path.of("..", "docs");
    static final Path README = Path.of("..", "README.md");
    static final ObjectMapper JSON = JsonMapper.builder().build();
    static final ObjectMapper YAML = YAMLMapper.builder().build();

    /** Metric names in PromQL: ours and Resilience4j's (labels, functions and keywords never start so). */
    private static final Pattern METRIC = Pattern.compile("\\b(?:portkeeper[_:]|resilience4j_)[a-zA-Z0-9_:]*");

    private Kit() {
    }

    /** One rule of the shipped file. */
    record Rule(String group, JsonNode node) {
        String name() {
            return node.has("alert") ? node.get("alert").asString() : node.get("record").asString();
        }

        boolean isAlert() {
            return node.has("alert");
        }

        String expr() {
            return node.get("expr").asString();
        }
    }

    static List<Rule> rules() throws IOException {
        List<Rule> rules = new ArrayList<>();
        for (JsonNode group : YAML.readTree(RULES.toFile()).get("groups")) {
            for (JsonNode rule : group.get("rules")) {
                rules.add(new Rule(group.get("name").asString(), rule));
            }
        }
        return rules;
    }

    static JsonNode dashboard() throws IOException {
        return JSON.readTree(DASHBOARD.toFile());
    }

    /** Every PromQL expression of the dashboard's panels. */
    static List<String> dashboardExprs() throws IOException {
        List<String> exprs = new ArrayList<>();
        for (JsonNode panel : dashboard().get("panels")) {
            for (JsonNode target : panel.path("targets")) {
                exprs.add(target.get("expr").asString());
            }
        }
        return exprs;
    }

    static Set<String> metricNames(String promql) {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = METRIC.matcher(promql);
        while (m.find()) {
            names.add(m.group());
        }
        return names;
    }

    /** The sample names the meter list gives, which the core module's exposition test proves. */
    static Set<String> listedSampleNames() {
        Set<String> names = new LinkedHashSet<>();
        for (MeterList.Meter meter : MeterList.meters()) {
            for (MeterList.Sample s : meter.samples()) {
                names.add(s.name());
            }
        }
        return names;
    }

    static String read(Path file) throws IOException {
        return Files.readString(file, StandardCharsets.UTF_8);
    }
}
