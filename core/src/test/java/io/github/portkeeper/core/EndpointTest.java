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
}
