package io.github.portkeeper.spring.boot;

import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.core.internal.MeterList;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MeterRegistryCustomizer;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.client.RestClient;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A Boot application with the starter and {@code micrometer-registry-prometheus}, as users run
 * it: after a call through Boot's {@link RestClient}, {@code GET /actuator/prometheus} shows every
 * Portkeeper meter of the meter list under its exposition name and labels, in the Prometheus text
 * format and in OpenMetrics, and no meter failed to register (none reported, none logged).
 */
@SpringBootTest(classes = PrometheusScrapeTest.App.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = "management.endpoints.web.exposure.include=prometheus")
@ExtendWith(OutputCaptureExtension.class)
class PrometheusScrapeTest {

    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)\\{(.*)} \\S+.*$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"");
    private static final List<String> registrationFailures = new CopyOnWriteArrayList<>();
    private static HttpServer backend;

    @Configuration(proxyBeanMethods = false)
    @EnableAutoConfiguration
    static class App {
        /** Records what the registry refuses; it would otherwise only log it once, at debug level after the first. */
        @Bean
        MeterRegistryCustomizer<PrometheusMeterRegistry> recordRegistrationFailures() {
            return registry -> registry.config().onMeterRegistrationFailed(
                    (id, reason) -> registrationFailures.add(id + ": " + reason));
        }
    }

    @BeforeAll
    static void startBackend() throws IOException {
        backend = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        backend.createContext("/", exchange -> {
            byte[] body = "ok".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        backend.start();
    }

    @AfterAll
    static void stopBackend() {
        backend.stop(0);
    }

    @LocalServerPort
    int port;

    @Autowired
    RestClient.Builder restClientBuilder;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void actuatorPrometheusShowsEveryPortkeeperMeterWithoutARegistrationError(CapturedOutput output) throws Exception {
        RestClient client = restClientBuilder.baseUrl("http://127.0.0.1:" + backend.getAddress().getPort()).build();
        assertThat(client.get().uri("/hello").retrieve().body(String.class)).isEqualTo("ok");

        for (String accept : List.of("text/plain;version=0.0.4", "application/openmetrics-text;version=1.0.0")) {
            HttpResponse<String> scrape = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/actuator/prometheus"))
                    .header("Accept", accept).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(scrape.statusCode()).as(accept).isEqualTo(200);
            Set<String> exposed = samples(scrape.body());
            for (MeterList.Meter meter : MeterList.meters()) {
                for (MeterList.Sample s : meter.samples()) {
                    String expected = s.name() + new TreeSet<>(s.labels().keySet());
                    assertThat(exposed).as("%s exposes %s (%s)", accept, s.spec(), meter.name()).contains(expected);
                }
            }
        }
        assertThat(registrationFailures).isEmpty();
        assertThat(output.getAll()).doesNotContain("is already registered").doesNotContain("registration failed");
    }

    /** The Portkeeper samples of a scrape, each as its name and its sorted label names. */
    private static Set<String> samples(String scrape) {
        Set<String> samples = new HashSet<>();
        for (String line : scrape.split("\n")) {
            Matcher m = SAMPLE.matcher(line);
            if (line.startsWith("portkeeper_") && m.matches()) {
                Set<String> labels = new TreeSet<>();
                Matcher l = LABEL.matcher(m.group(2));
                while (l.find()) {
                    labels.add(l.group(1));
                }
                samples.add(m.group(1) + labels);
            }
        }
        return samples;
    }
}
