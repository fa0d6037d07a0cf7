package io.github.portkeeper.spring.boot;

import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.micrometer.core.instrument.MeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.ssl.SslAutoConfiguration;
import org.springframework.boot.http.client.autoconfigure.HttpClientAutoConfiguration;
import org.springframework.boot.http.client.autoconfigure.imperative.ImperativeHttpClientAutoConfiguration;
import org.springframework.boot.http.client.autoconfigure.service.HttpServiceClientPropertiesAutoConfiguration;
import org.springframework.boot.http.converter.autoconfigure.HttpMessageConvertersAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.restclient.autoconfigure.RestClientAutoConfiguration;
import org.springframework.boot.restclient.autoconfigure.service.HttpServiceClientAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.service.annotation.GetExchange;
import org.springframework.web.service.annotation.HttpExchange;
import org.springframework.web.service.registry.ImportHttpServices;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Declarative HTTP clients ({@code @HttpExchange} interfaces registered with
 * {@code @ImportHttpServices}) get their {@code RestClient} from Boot, and so their connections
 * from the Portkeeper pool: no code of the application names Portkeeper.
 */
class HttpServiceClientTest {

    private final ApplicationContextRunner runner = new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(
                    PortkeeperAutoConfiguration.class, PortkeeperHttpAutoConfiguration.class, PortkeeperMetricsAutoConfiguration.class,
                    SslAutoConfiguration.class, HttpClientAutoConfiguration.class, ImperativeHttpClientAutoConfiguration.class,
                    HttpMessageConvertersAutoConfiguration.class, RestClientAutoConfiguration.class,
                    HttpServiceClientPropertiesAutoConfiguration.class, HttpServiceClientAutoConfiguration.class,
                    MetricsAutoConfiguration.class, SimpleMetricsExportAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class));

    private HttpServer server;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/items/", exchange -> {
            byte[] body = ("item " + exchange.getRequestURI().getPath().substring("/items/".length())).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    @Test
    void anHttpExchangeClientGoesThroughThePool() {
        runner.withUserConfiguration(CatalogServices.class)
                .withPropertyValues("spring.http.serviceclient.catalog.base-url=http://127.0.0.1:" + server.getAddress().getPort())
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    Catalog catalog = context.getBean(Catalog.class);
                    for (int i = 0; i < 10; i++) {
                        assertThat(catalog.item(i)).isEqualTo("item " + i);
                    }
                    PortkeeperConnectionManager manager = context.getBean(PortkeeperConnectionManager.class);
                    assertThat(manager.pool().stats().idle()).isEqualTo(1);
                    assertThat(context.getBean(MeterRegistry.class).get("portkeeper.connections.opened").tag("pool", "http")
                            .counter().count()).isEqualTo(1.0);
                });
    }

    /** A declarative client of the catalog. */
    @HttpExchange("/items")
    interface Catalog {

        @GetExchange("/{id}")
        String item(@PathVariable("id") int id);
    }

    @Configuration(proxyBeanMethods = false)
    @ImportHttpServices(group = "catalog", types = Catalog.class)
    static class CatalogServices {
    }
}
