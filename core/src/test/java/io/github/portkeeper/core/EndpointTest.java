package io.github.portkeeper.core;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EndpointTest {

    @Test
    void aBlankHostIsRejectedShowingTheValue() {
        assertThatThrownBy(() -> Endpoint.of(" ", 80)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("host must not be blank, but was ' '");
        assertThatThrownBy(() -> Endpoint.of("", 80, "tls")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("host must not be blank, but was ''");
        assertThatThrownBy(() -> Endpoint.of(null, 80)).isInstanceOf(NullPointerException.class).hasMessage("host");
    }

    @Test
    void aPortOutOfRangeIsRejectedShowingTheValue() {
        assertThatThrownBy(() -> Endpoint.of("h", 65536)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port must be between 1 and 65535, but was 65536");
        assertThat(Endpoint.of("::1", 65535)).hasToString("[::1]:65535");
    }

    @Test
    void aHostWithSurroundingWhitespaceIsRejectedShowingTheValue() {
        // No resolver takes " db " for "db": it would fail at connect, or pool apart from "db".
        assertThatThrownBy(() -> Endpoint.of(" db", 7000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("host must not begin or end with whitespace, but was ' db'");
        assertThatThrownBy(() -> Endpoint.of("db\n", 7000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("host must not begin or end with whitespace, but was 'db\n'");
        assertThat(Endpoint.of("db", 7000)).hasToString("db:7000");
    }
}
