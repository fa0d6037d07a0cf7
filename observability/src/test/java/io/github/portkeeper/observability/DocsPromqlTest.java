package io.github.portkeeper.observability;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * PromQL in the docs is copied from the tested rules or dashboard, never written apart: every
 * {@code promql} code block is one of their expressions, and every inline code span that calls
 * a function on a Portkeeper series is part of one.
 */
class DocsPromqlTest {

    private static final Pattern BLOCK = Pattern.compile("(?ms)^```promql\\n(.*?)^```");
    private static final Pattern SPAN = Pattern.compile("`([^`\\n]+)`");

    @Test
    void everyPromqlInTheDocsComesFromTheRulesOrTheDashboard() throws IOException {
        List<String> tested = new ArrayList<>();
        Kit.rules().forEach(r -> tested.add(r.expr().strip()));
        tested.addAll(Kit.dashboardExprs());
        int blocks = 0;
        for (Path doc : docs()) {
            String text = Kit.read(doc);
            Matcher b = BLOCK.matcher(text);
            while (b.find()) {
                blocks++;
                assertThat(tested).as("a PromQL block of %s", doc).contains(b.group(1).strip());
            }
            Matcher s = SPAN.matcher(BLOCK.matcher(text).replaceAll(""));
            while (s.find()) {
                String span = s.group(1);
                if (span.contains("(") && !Kit.metricNames(span).isEmpty()) {
                    assertThat(tested.stream().anyMatch(e -> e.contains(span)))
                            .as("inline PromQL `%s` in %s is part of a rule or dashboard query", span, doc).isTrue();
                }
            }
        }
        assertThat(blocks).as("PromQL blocks in the docs").isPositive();
    }

    private static List<Path> docs() throws IOException {
        List<Path> docs = new ArrayList<>();
        docs.add(Kit.README);
        try (Stream<Path> files = Files.walk(Kit.DOCS)) {
            files.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        return docs;
    }
}
