package io.github.portkeeper.core.micrometer;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.core.LeaseTimeoutException;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.Retirement;
import io.github.portkeeper.core.internal.MeterList;
import io.github.portkeeper.core.testing.ChannelConnector;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.core.testing.StubConnection;
import io.github.portkeeper.core.testing.StubConnector;
import io.micrometer.core.instrument.Meter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Every meter of a pool that has seen every kind of event (each ending, each lease outcome, a
 * suspected leak, kernel gauges, the port budget), bound to a real {@link PrometheusMeterRegistry}
 * and scraped in the Prometheus text format and in OpenMetrics: the families, sample names and
 * labels are exactly those of the meter list ({@link MeterList}, which docs/metrics.md shows).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PrometheusExpositionTest {

    static final String OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    private static final Set<String> RESERVED = Set.of("created", "total", "count", "sum", "bucket", "info");
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? (\\S+)$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final List<MeterList.Meter> list = MeterList.meters();
    private final List<String> registrationFailures = new CopyOnWriteArrayList<>();
    private PrometheusMeterRegistry registry;
    private String text;
    private String openMetrics;

    @BeforeAll
    void aPoolThatHasSeenEveryEvent(@TempDir Path dir) throws Exception {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().onMeterRegistrationFailed((id, reason) -> registrationFailures.add(id + ": " + reason));
        KernelProbe probe = KernelProbe.linux();
        if (!probe.isAvailable()) { // elsewhere an empty socket table stands in, so the gauges are exposed
            Files.writeString(dir.resolve("tcp"), "  sl  local_address rem_address   st\n");
            probe = KernelProbe.reading(dir.resolve("tcp"), dir.resolve("tcp6"));
        }
        try (ScriptedServer steady = ScriptedServer.start();
             ScriptedServer closing = ScriptedServer.builder().closeAfterIdle(Duration.ofMillis(200)).start();
             Pool<SocketChannel> pool = Pool.of(ChannelConnector.plain(), PoolConfig.builder().name("exposition")
                     .maxPerEndpoint(2).maxTotal(8).housekeepingInterval(Duration.ofMillis(20))
                     .leakDetectionThreshold(Duration.ofMillis(100))
                     .retirement(Retirement.awaitPeer(Duration.ofMillis(200)).withFallback(Ending.LOCAL)).build())) {
            PoolMetrics.builder(pool).kernelProbe(probe).build().bindTo(registry);
            Endpoint a = Endpoint.of(steady.host(), steady.port());
            Endpoint b = Endpoint.of(closing.host(), closing.port());

            try (Lease<SocketChannel> l = pool.lease(a)) {                         // new
                assertThat(ScriptedServer.exchange(l.connection(), 1)).isEqualTo(2);
            }
            Lease<SocketChannel> first = pool.lease(a);                              // reused
            Lease<SocketChannel> second = pool.lease(a);                             // new
            assertThatThrownBy(() -> pool.lease(a, Duration.ofMillis(20)))           // timeout
                    .isInstanceOf(LeaseTimeoutException.class);
            await().atMost(WAIT).until(() -> count("portkeeper.leaks.suspected") >= 1);   // held past the threshold
            first.markBroken();                                                      // ends RESET
            first.close();
            second.retire();                                                         // the server never closes: drain
            second.close();                                                          // times out, ends LOCAL

            try (Lease<SocketChannel> l = pool.lease(b)) {
                assertThat(ScriptedServer.exchange(l.connection(), 3)).isEqualTo(4);
            }                                                                        // the server closes it idle: PEER
            Endpoint dead = Endpoint.of(steady.host(), unusedPort());
            assertThatThrownBy(() -> pool.lease(dead)).isInstanceOf(IOException.class); // FAILED, rejected

            await().atMost(WAIT).until(() -> closed("reset") >= 1 && closed("local") >= 1 && closed("peer") >= 1
                    && closed("failed") >= 1);
            text = registry.scrape();
            openMetrics = registry.scrape(OPENMETRICS);
        }
    }

    @AfterAll
    void close() {
        registry.close();
    }

    @Test
    void noMeterFailedToRegister() {
        assertThat(registrationFailures).isEmpty();
    }

    @Test
    void theListNamesEveryRegisteredMeterAndNoOther() {
        Set<String> registered = registry.getMeters().stream().map(m -> m.getId().getName())
                .filter(n -> n.startsWith("portkeeper.")).collect(Collectors.toCollection(TreeSet::new));
        assertThat(registered).containsExactlyInAnyOrderElementsOf(list.stream().map(MeterList.Meter::name).toList());
    }

    @Test
    void noMeterNameEndsInASuffixThatAnExpositionReservesOrRewrites() {
        for (MeterList.Meter m : list) {
            String last = m.name().substring(m.name().lastIndexOf('.') + 1);
            assertThat(RESERVED).as(m.name()).doesNotContain(last);
            for (String family : m.openMetricsFamilies()) {
                assertThat(RESERVED).as(family).doesNotContain(family.substring(family.lastIndexOf('_') + 1));
            }
        }
        for (Meter meter : registry.getMeters()) {
            String name = meter.getId().getConventionName(registry.config().namingConvention());
            assertThat(name).as(meter.getId().getName()).doesNotEndWith("_created").doesNotEndWith("_info")
                    .doesNotEndWith("_bucket");
        }
    }

    @Test
    void noTwoMetersShareAnExpositionName() {
        Map<String, String> owner = new HashMap<>();
        for (MeterList.Meter m : list) {
            for (String family : concat(m.textFamilies(), m.openMetricsFamilies())) {
                String before = owner.putIfAbsent(family, m.name());
                assertThat(before == null || before.equals(m.name())).as("%s is %s and %s", family, before, m.name()).isTrue();
            }
            for (MeterList.Sample s : m.samples()) {
                String before = owner.putIfAbsent("sample " + s.name(), m.name());
                assertThat(before == null || before.equals(m.name())).as("%s is %s and %s", s.name(), before, m.name()).isTrue();
            }
        }
    }

    @Test
    void textFormatShowsExactlyTheListedFamiliesSamplesAndLabels() {
        assertExposition(text, list.stream().flatMap(m -> m.textFamilies().stream()).toList());
    }

    @Test
    void openMetricsShowsExactlyTheListedFamiliesSamplesAndLabels() {
        assertThat(openMetrics).endsWith("# EOF\n");
        assertExposition(openMetrics, list.stream().flatMap(m -> m.openMetricsFamilies().stream()).toList());
    }

    @Test
    void everyEndingAndEveryLeaseOutcomeWasCounted() {
        for (String by : List.of("peer", "local", "reset", "failed")) {
            assertThat(closed(by)).as("closed.by=%s", by).isPositive();
        }
        for (String outcome : List.of("reused", "new", "timeout", "rejected")) {
            assertThat(registry.find("portkeeper.leases").tag("outcome", outcome).counters().stream()
                    .mapToDouble(c -> c.count()).sum()).as("outcome=%s", outcome).isPositive();
        }
        assertThat(count("portkeeper.timewait.caused")).isPositive();
        assertThat(count("portkeeper.leaks.suspected")).isPositive();
    }

    @Test
    void poolsWithAndWithoutTheEndpointTagShareOneRegistryWithoutARegistrationFailure() throws Exception {
        PrometheusMeterRegistry shared = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        List<String> failures = new CopyOnWriteArrayList<>();
        shared.config().onMeterRegistrationFailed((id, reason) -> failures.add(id + ": " + reason));
        try (Pool<StubConnection> tagged = Pool.of(new StubConnector(), PoolConfig.builder().name("tagged").build());
             Pool<StubConnection> untagged = Pool.of(new StubConnector(), PoolConfig.builder().name("untagged").build())) {
            new PoolMetrics(tagged).bindTo(shared);
            PoolMetrics.builder(untagged).endpointTag(false).build().bindTo(shared);
            try (Lease<StubConnection> a = tagged.lease(Endpoint.of("a.example", 80));
                 Lease<StubConnection> b = untagged.lease(Endpoint.of("b.example", 80))) {
                assertThat(a.connection()).isNotNull();
                assertThat(b.connection()).isNotNull();
            }
            String scrape = shared.scrape();
            assertThat(failures).isEmpty();
            assertThat(scrape).contains("portkeeper_leases_total{endpoint=\"a.example:80\",outcome=\"new\",pool=\"tagged\"} 1.0",
                    "portkeeper_leases_total{outcome=\"new\",pool=\"untagged\"} 1.0");
        } finally {
            shared.close();
        }
    }

    /** Families from the {@code # TYPE} lines, samples and their labels, against the list. */
    private void assertExposition(String scrape, List<String> expectedFamilies) {
        List<String> families = new ArrayList<>();
        Map<String, Set<String>> seenValues = new HashMap<>();
        Set<String> seenSpecs = new HashSet<>();
        for (String line : scrape.split("\n")) {
            if (line.startsWith("# TYPE portkeeper_")) {
                families.add(line.split(" ")[2]);
            }
            if (!line.startsWith("portkeeper_")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertThat(m.matches()).as(line).isTrue();
            Map<String, String> labels = new HashMap<>();
            Matcher l = LABEL.matcher(m.group(2) == null ? "" : m.group(2));
            while (l.find()) {
                labels.put(l.group(1), l.group(2));
            }
            MeterList.Sample spec = specOf(m.group(1), labels.keySet());
            assertThat(spec).as("a listed sample with these labels: %s", line).isNotNull();
            seenSpecs.add(spec.spec());
            spec.labels().forEach((name, values) -> {
                if (!values.isEmpty()) {
                    assertThat(values).as(line).contains(labels.get(name));
                    seenValues.computeIfAbsent(spec.spec() + " " + name, k -> new TreeSet<>()).add(labels.get(name));
                }
            });
        }
        assertThat(families).as("one # TYPE line per family, each listed").doesNotHaveDuplicates()
                .containsExactlyInAnyOrderElementsOf(expectedFamilies);
        for (MeterList.Meter meter : list) {
            for (MeterList.Sample s : meter.samples()) {
                assertThat(seenSpecs).as("scraped %s", s.spec()).contains(s.spec());
                s.labels().forEach((name, values) -> {
                    if (!values.isEmpty()) {
                        assertThat(seenValues.get(s.spec() + " " + name)).as("%s %s", s.spec(), name)
                                .containsExactlyInAnyOrderElementsOf(values);
                    }
                });
            }
        }
    }

    private MeterList.Sample specOf(String name, Set<String> labels) {
        for (MeterList.Meter m : list) {
            for (MeterList.Sample s : m.samples()) {
                if (s.name().equals(name) && s.labels().keySet().equals(labels)) {
                    return s;
                }
            }
        }
        return null;
    }

    private double count(String name) {
        return registry.find(name).counters().stream().mapToDouble(c -> c.count()).sum();
    }

    private double closed(String by) {
        return registry.find("portkeeper.connections.closed").tag("closed.by", by).counters().stream()
                .mapToDouble(c -> c.count()).sum();
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    private static int unusedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
