package io.github.portkeeper.spring.boot.common;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The IDE metadata the build generates: every {@code portkeeper.*} property has a default and a description. */
class ConfigurationMetadataTest {

    @Test
    void everyPropertyHasADefaultAndADescription() throws IOException {
        JsonNode metadata;
        try (InputStream in = getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
            assertThat(in).as("generated metadata").isNotNull();
            metadata = new ObjectMapper().readTree(in);
        }
        List<String> names = new ArrayList<>();
        List<String> incomplete = new ArrayList<>();
        for (JsonNode p : metadata.get("properties")) {
            String name = p.get("name").asText();
            names.add(name);
            if (!p.hasNonNull("defaultValue") || !p.hasNonNull("description") || p.get("description").asText().isBlank()) {
                incomplete.add(name);
            }
        }
        assertThat(names).contains("portkeeper.retirement.fallback", "portkeeper.pool.lifetime-jitter",
                "portkeeper.http.socket-timeout", "portkeeper.pool.max-per-endpoint").hasSizeGreaterThanOrEqualTo(30);
        assertThat(incomplete).as("properties without a default or a description").isEmpty();
    }
}
