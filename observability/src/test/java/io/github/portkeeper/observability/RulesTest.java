package io.github.portkeeper.observability;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The shipped alert and recording rules: valid for Prometheus ({@code promtool check rules}),
 * behaving as their unit tests say ({@code promtool test rules}), built only on meters the
 * exposition test proves, and each alert documented in the runbook.
 */
class RulesTest {

    private static final Set<String> SEVERITIES = Set.of("critical", "warning", "info");
    private static final String RUNBOOK = "https://github.com/portkeeper/portkeeper/blob/main/docs/operations.md#";
    private static final Pattern HEADING = Pattern.compile("(?m)^#{1,6} +(.+)$");

    @Test
    void promtoolChecksTheRules() throws Exception {
        Path promtool = Promtool.find("promtool").orElse(null);
        assumeTrue(promtool != null, Promtool.MISSING);
        Promtool.Run run = Promtool.run(promtool, Path.of("prometheus"), "check", "rules", "portkeeper-rules.yml");
        assertThat(run.exitCode()).as(run.output()).isZero();
        assertThat(run.output()).contains("SUCCESS: " + Kit.rules().size() + " rules found");
    }

    @Test
    void promtoolUnitTestsOfTheRulesPass() throws Exception {
        Path promtool = Promtool.find("promtool").orElse(null);
        assumeTrue(promtool != null, Promtool.MISSING);
        Promtool.Run run = Promtool.run(promtool, Path.of("prometheus"), "test", "rules", "portkeeper-rules.test.yml");
        assertThat(run.exitCode()).as(run.output()).isZero();
        assertThat(run.output()).contains("SUCCESS");
    }

    @Test
    void everyAlertHasACaseThatFiresAndOneThatMustNot() throws IOException {
        Set<String> fires = new HashSet<>();
        Set<String> silent = new HashSet<>();
        for (JsonNode test : Kit.YAML.readTree(Kit.RULE_TESTS.toFile()).get("tests")) {
            for (JsonNode c : test.path("alert_rule_test")) {
                String name = c.get("alertname").asString();
                if (c.get("exp_alerts").isEmpty()) {
                    silent.add(name);
                } else {
                    fires.add(name);
                }
            }
        }
        List<String> alerts = Kit.rules().stream().filter(Kit.Rule::isAlert).map(Kit.Rule::name).toList();
        assertThat(alerts).hasSizeGreaterThanOrEqualTo(6);
        assertThat(fires).as("alerts with a firing case").containsAll(alerts);
        assertThat(silent).as("alerts with a case where they must not fire").containsAll(alerts);
    }

    @Test
    void everyAlertHasASeveritySummaryAndARunbookSectionThatExists() throws IOException {
        Set<String> anchors = new HashSet<>();
        Matcher h = HEADING.matcher(Kit.read(Kit.DOCS.resolve("operations.md")));
        while (h.find()) {
            anchors.add(anchor(h.group(1)));
        }
        for (Kit.Rule rule : Kit.rules()) {
            if (!rule.isAlert()) {
                continue;
            }
            JsonNode n = rule.node();
            assertThat(n.path("labels").path("severity").asString()).as(rule.name()).isIn(SEVERITIES);
            assertThat(n.path("annotations").path("summary").asString()).as(rule.name()).isNotBlank();
            String url = n.path("annotations").path("runbook_url").asString();
            assertThat(url).as(rule.name()).startsWith(RUNBOOK);
            assertThat(anchors).as("docs/operations.md has a section for %s", rule.name())
                    .contains(url.substring(RUNBOOK.length()));
            assertThat(url.substring(RUNBOOK.length())).isEqualTo(rule.name().toLowerCase(Locale.ROOT));
        }
    }

    @Test
    void rulesUseOnlyMetersTheExpositionTestProvesAndRecordedSeries() throws IOException {
        Set<String> known = new LinkedHashSet<>(Kit.listedSampleNames());
        List<Kit.Rule> rules = Kit.rules();
        for (Kit.Rule rule : rules) {
            Set<String> used = Kit.metricNames(rule.expr());
            assertThat(used).as(rule.name()).isNotEmpty();
            assertThat(known).as("names usable in %s", rule.name()).containsAll(used);
            if (!rule.isAlert()) {
                known.add(rule.name()); // later rules may use it
            }
        }
    }

    /** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
    static String anchor(String heading) {
        return heading.trim().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9 _-]", "").replace(' ', '-');
    }
}
