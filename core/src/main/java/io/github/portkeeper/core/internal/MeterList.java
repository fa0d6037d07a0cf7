package io.github.portkeeper.core.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The list of Portkeeper's meters and their Prometheus exposition names, read from the
 * {@code meters.tsv} resource next to {@code PoolMetrics}. It is the one list that the metrics
 * reference, the exposition tests, the alert rules' and the dashboard's tests check against.
 * Not part of the public API. Immutable, thread-safe.
 */
public final class MeterList {

    /** Where the list lives on the class path. */
    public static final String RESOURCE = "/io/github/portkeeper/core/micrometer/meters.tsv";

    /**
     * One meter.
     *
     * @param name                the Micrometer name, e.g. {@code portkeeper.leases}
     * @param type                gauge, counter, function counter or timer
     * @param textFamilies        the metric families in the Prometheus text format (0.0.4)
     * @param openMetricsFamilies the metric families in OpenMetrics 1.0
     * @param samples             the sample names and labels, the same in both formats
     */
    public record Meter(String name, String type, List<String> textFamilies, List<String> openMetricsFamilies,
                        List<Sample> samples) {
    }

    /**
     * One sample name with its labels. A label maps to the values it must take (each at least
     * once in a scrape of a pool that has seen every event), or to an empty list for any value.
     *
     * @param name   the sample name, e.g. {@code portkeeper_leases_total}
     * @param labels label name to its listed values, in the list's order
     * @param spec   the sample as the list writes it, e.g. {@code portkeeper_leases_total{pool,endpoint}}
     */
    public record Sample(String name, Map<String, List<String>> labels, String spec) {
    }

    private MeterList() {
    }

    /** The meters, in the list's order. */
    public static List<Meter> meters() {
        try (InputStream in = MeterList.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is not on the class path");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Parses the list's text: {@code #} comments, then one tab-separated row per meter. */
    public static List<Meter> parse(String text) {
        List<Meter> meters = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] cells = line.split("\t");
            if (cells.length != 5) {
                throw new IllegalArgumentException("a meter row needs 5 tab-separated cells, but has " + cells.length
                        + ": " + line);
            }
            List<Sample> samples = new ArrayList<>();
            for (String spec : words(cells[4])) {
                samples.add(sample(spec));
            }
            meters.add(new Meter(cells[0].trim(), cells[1].trim(), words(cells[2]), words(cells[3]), List.copyOf(samples)));
        }
        return List.copyOf(meters);
    }

    private static Sample sample(String spec) {
        int brace = spec.indexOf('{');
        if (brace < 0 || !spec.endsWith("}")) {
            throw new IllegalArgumentException("a sample is written name{label,label=a|b}, but was " + spec);
        }
        Map<String, List<String>> labels = new LinkedHashMap<>();
        for (String label : spec.substring(brace + 1, spec.length() - 1).split(",")) {
            int eq = label.indexOf('=');
            labels.put(eq < 0 ? label : label.substring(0, eq),
                    eq < 0 ? List.of() : List.of(label.substring(eq + 1).split("\\|")));
        }
        return new Sample(spec.substring(0, brace), Collections.unmodifiableMap(labels), spec);
    }

    private static List<String> words(String cell) {
        return List.copyOf(Arrays.asList(cell.trim().split(" +")));
    }
}
