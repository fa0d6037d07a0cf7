package io.github.portkeeper.spring.boot.common;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The IDE metadata the build generates: every {@code portkeeper.*} property has a default and a
 * description, and the default it shows is the one the properties really have.
 */
class ConfigurationMetadataTest {

    @Test
    void everyPropertyHasADefaultAndADescription() throws IOException {
        JsonNode metadata = metadata();
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

    /**
     * Binding the default the metadata shows gives the value a fresh {@link PortkeeperProperties}
     * holds. Properties whose field is null by default (a default derived from other settings,
     * such as the retirement fallback or the lifetime jitter) are not compared.
     */
    @Test
    void theDefaultsTheMetadataShowsAreTheRealOnes() throws Exception {
        PortkeeperProperties fresh = new PortkeeperProperties();
        List<String> wrong = new ArrayList<>();
        int compared = 0;
        for (JsonNode p : metadata().get("properties")) {
            String name = p.get("name").asText();
            if (!p.hasNonNull("defaultValue") || p.get("defaultValue").isContainerNode()) {
                continue;
            }
            Object actual = valueOf(fresh, name);
            if (actual == null) {
                continue;
            }
            String shown = p.get("defaultValue").asText();
            PortkeeperProperties bound = new Binder(new MapConfigurationPropertySource(Map.of(name, shown)))
                    .bind("portkeeper", PortkeeperProperties.class).get();
            compared++;
            if (!Objects.equals(valueOf(bound, name), actual)) {
                wrong.add(name + ": metadata shows " + shown + ", the default is " + actual);
            }
        }
        assertThat(compared).as("properties compared").isGreaterThanOrEqualTo(25);
        assertThat(wrong).as("metadata defaults that are not the properties' defaults").isEmpty();
    }

    /** A Boot setting that wins over a Portkeeper one is named as each supported Boot line spells it. */
    @Test
    void theBootTimeoutsThatWinAreNamedForBoot4AndBoot35() throws IOException {
        Map<String, String> winners = Map.of("portkeeper.http.connect-timeout", "connect-timeout",
                "portkeeper.http.socket-timeout", "read-timeout");
        for (JsonNode p : metadata().get("properties")) {
            String boot = winners.get(p.get("name").asText());
            if (boot != null) {
                assertThat(p.get("description").asText()).as(p.get("name").asText())
                        .contains("spring.http.clients." + boot)
                        .contains("spring.http.client." + boot);
            }
        }
    }

    private JsonNode metadata() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
            assertThat(in).as("generated metadata").isNotNull();
            return new ObjectMapper().readTree(in);
        }
    }

    /** The value of {@code portkeeper.a.b-c} in {@code properties}: {@code getA().getBC()}. */
    private static Object valueOf(PortkeeperProperties properties, String name) throws Exception {
        Object target = properties;
        for (String part : name.substring("portkeeper.".length()).split("\\.")) {
            StringBuilder camel = new StringBuilder();
            for (String word : part.split("-")) {
                camel.append(Character.toUpperCase(word.charAt(0))).append(word.substring(1));
            }
            Method getter = getter(target.getClass(), camel.toString());
            target = getter.invoke(target);
            if (target == null) {
                return null;
            }
        }
        return target;
    }

    private static Method getter(Class<?> type, String property) throws NoSuchMethodException {
        try {
            return type.getMethod("get" + property);
        } catch (NoSuchMethodException e) {
            return type.getMethod("is" + property);
        }
    }
}
