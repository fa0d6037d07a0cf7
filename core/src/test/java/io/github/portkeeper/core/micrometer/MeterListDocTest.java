package io.github.portkeeper.core.micrometer;

import io.github.portkeeper.core.internal.MeterList;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * docs/metrics.md shows the meter list ({@link MeterList}) and nothing else: its exposition table
 * is the list rendered row by row, and its meter table names the same meters.
 */
class MeterListDocTest {

    private static final Path DOC = Path.of("..", "docs", "metrics.md");
    private static final String EXPOSITION_HEADER = "| meter | type | Prometheus text families | OpenMetrics families | samples and labels |";
    private static final String METERS_HEADER = "| meter | type | tags | meaning |";
    private static final Pattern FIRST_CELL = Pattern.compile("^\\| `([a-z.]+)` \\|");

    @Test
    void expositionTableIsTheMeterListRendered() throws IOException {
        List<String> expected = new ArrayList<>();
        for (MeterList.Meter m : MeterList.meters()) {
            expected.add("| `" + m.name() + "` | " + m.type() + " | " + code(m.textFamilies(), ", ") + " | "
                    + code(m.openMetricsFamilies(), ", ") + " | "
                    + code(m.samples().stream().map(MeterList.Sample::spec).toList(), "<br>") + " |");
        }
        assertThat(tableRows(EXPOSITION_HEADER)).as("the exposition table of %s; it should read:%n%s", DOC,
                String.join("\n", expected)).containsExactlyElementsOf(expected);
    }

    @Test
    void meterTableNamesTheListedMeters() throws IOException {
        List<String> names = new ArrayList<>();
        for (String row : tableRows(METERS_HEADER)) {
            Matcher m = FIRST_CELL.matcher(row);
            assertThat(m.find()).as(row).isTrue();
            names.add(m.group(1));
        }
        assertThat(names).containsExactlyElementsOf(MeterList.meters().stream().map(MeterList.Meter::name).toList());
    }

    /** The rows under {@code header} (after its separator line), up to the first line that is not a row. */
    private static List<String> tableRows(String header) throws IOException {
        List<String> lines = Files.readAllLines(DOC, StandardCharsets.UTF_8);
        int at = lines.indexOf(header);
        assertThat(at).as("%s has a table headed %s", DOC, header).isNotNegative();
        List<String> rows = new ArrayList<>();
        for (int i = at + 2; i < lines.size() && lines.get(i).startsWith("|"); i++) {
            rows.add(lines.get(i));
        }
        return rows;
    }

    private static String code(List<String> items, String separator) {
        return items.stream().map(s -> "`" + s.replace("|", "\\|") + "`").collect(Collectors.joining(separator));
    }
}
