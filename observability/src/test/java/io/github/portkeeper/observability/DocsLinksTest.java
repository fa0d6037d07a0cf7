package io.github.portkeeper.observability;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every link between the project's Markdown files leads somewhere: a relative link names a file
 * or folder of the repository, and a {@code #fragment} names a heading of its target, spelled as
 * GitHub spells heading anchors (lower case, punctuation dropped, spaces as hyphens, repeats
 * numbered). A heading renamed without its links fails here.
 */
class DocsLinksTest {

    private static final Path ROOT = Path.of("..");
    /** {@code [text](target)}, not an image; the target without spaces or a title. */
    private static final Pattern LINK = Pattern.compile("(?<!!)\\[[^\\]\\n]*]\\(([^)\\s]+)\\)");
    private static final Pattern HEADING = Pattern.compile("(?m)^#{1,6}\\s+(.+?)\\s*#*\\s*$");
    private static final Pattern FENCE = Pattern.compile("(?ms)^```.*?^```");
    private static final Pattern NOT_IN_ANCHOR = Pattern.compile("[^\\p{L}\\p{N}_\\- ]", Pattern.UNICODE_CHARACTER_CLASS);

    @Test
    void everyLinkBetweenTheDocsLeadsToAFileAndAHeading() throws IOException {
        List<Path> docs = markdownFiles();
        Map<Path, Set<String>> anchors = new HashMap<>();
        for (Path doc : docs) {
            anchors.put(doc.toAbsolutePath().normalize(), anchors(Kit.read(doc)));
        }
        List<String> broken = new ArrayList<>();
        int links = 0;
        for (Path doc : docs) {
            Matcher m = LINK.matcher(FENCE.matcher(Kit.read(doc)).replaceAll(""));
            while (m.find()) {
                String link = m.group(1);
                if (link.matches("^[a-z]+:.*")) {
                    continue; // https:, mailto: — outside the repository
                }
                links++;
                int hash = link.indexOf('#');
                String file = hash < 0 ? link : link.substring(0, hash);
                Path target = (file.isEmpty() ? doc : doc.getParent().resolve(file)).toAbsolutePath().normalize();
                if (!Files.exists(target)) {
                    broken.add(doc + ": " + link + " (no such file)");
                } else if (hash >= 0 && (file.isEmpty() || file.endsWith(".md"))) {
                    String fragment = link.substring(hash + 1);
                    if (!anchors.getOrDefault(target, Set.of()).contains(fragment)) {
                        broken.add(doc + ": " + link + " (no such heading)");
                    }
                }
            }
        }
        assertThat(links).as("relative links in the docs").isGreaterThan(50);
        assertThat(broken).as("links that lead nowhere").isEmpty();
    }

    @Test
    void anchorsAreSpelledAsGithubSpellsThem() {
        assertThat(anchors("# Port budget and connection storms\n## Connection storms: rate limiter and circuit breaker\n"
                + "### 1 thread: forks in turn, and what the \"slow mode\" was\n## `PEER` endings\n## Notes\n## Notes\n"))
                .containsExactlyInAnyOrder("port-budget-and-connection-storms", "connection-storms-rate-limiter-and-circuit-breaker",
                        "1-thread-forks-in-turn-and-what-the-slow-mode-was", "peer-endings", "notes", "notes-1");
    }

    /** The anchors of a Markdown text's headings (outside code fences). */
    private static Set<String> anchors(String markdown) {
        Set<String> anchors = new HashSet<>();
        Map<String, Integer> seen = new HashMap<>();
        Matcher h = HEADING.matcher(FENCE.matcher(markdown).replaceAll(""));
        while (h.find()) {
            String slug = NOT_IN_ANCHOR.matcher(h.group(1).toLowerCase(Locale.ROOT)).replaceAll("").replace(' ', '-');
            int n = seen.merge(slug, 1, Integer::sum);
            anchors.add(n == 1 ? slug : slug + "-" + (n - 1));
        }
        return anchors;
    }

    /** README.md and every Markdown file below the repository's folders, build output aside. */
    private static List<Path> markdownFiles() throws IOException {
        List<Path> docs = new ArrayList<>();
        try (Stream<Path> files = Files.walk(ROOT)) {
            files.filter(p -> p.toString().endsWith(".md"))
                    .filter(p -> !ROOT.relativize(p).toString().matches("(^|.*/)(target|\\.git|node_modules)/.*"))
                    .sorted()
                    .forEach(docs::add);
        }
        assertThat(docs).as("Markdown files").contains(Kit.README.normalize()).hasSizeGreaterThan(10);
        return docs;
    }
}
