package io.github.portkeeper.example.catalog;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;

/**
 * An example service that only adds Portkeeper's starter ({@code portkeeper-spring-boot-starter} on
 * Boot 4, {@code portkeeper-spring-boot3-starter} on Boot 3.5) next to
 * {@code spring-boot-starter-web} and {@code spring-boot-starter-actuator}: its
 * {@link RestClient}, built from Boot's auto-configured {@link RestClient.Builder}, reuses pooled
 * keep-alive connections to the catalog and lets the catalog close them, so this host keeps no
 * TIME_WAIT sockets. Nothing in here mentions Portkeeper.
 *
 * <pre>
 * catalog.base-url=http://catalog:8080
 * portkeeper.pool.max-per-endpoint=4
 * management.endpoints.web.exposure.include=health,metrics
 * </pre>
 */
@SpringBootApplication
public class CatalogApplication {

    public static void main(String[] args) {
        SpringApplication.run(CatalogApplication.class, args);
    }

    @Bean
    RestClient catalog(RestClient.Builder builder, @Value("${catalog.base-url}") String baseUrl) {
        return builder.baseUrl(baseUrl).build();
    }

    /** Serves products by asking the catalog. */
    @RestController
    static class ProductController {

        private final RestClient catalog;

        ProductController(RestClient catalog) {
            this.catalog = catalog;
        }

        @GetMapping("/products/{id}")
        String product(@PathVariable("id") String id) {
            return catalog.get().uri("/items/{id}", id).retrieve().body(String.class);
        }
    }
}
