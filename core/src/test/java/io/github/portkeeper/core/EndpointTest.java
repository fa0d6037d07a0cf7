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
    @Test
    void aBracketedIpv6LiteralAsInAUriIsTheSameEndpointAsTheBareLiteral() {
        // URI.getHost() gives "[::1]"; InetAddress.getByName accepts it too.
        assertThat(Endpoint.of("[::1]", 80)).isEqualTo(Endpoint.of("::1", 80)).hasToString("[::1]:80");
        assertThat(Endpoint.of("[::1]", 80).host()).isEqualTo("::1");
        assertThat(Endpoint.of(java.net.URI.create("http://[::1]:8080/").getHost(), 8080)).isEqualTo(Endpoint.of("::1", 8080));
        assertThat(Endpoint.of("[fe80::1%eth0]", 80).host()).isEqualTo("fe80::1%eth0");
        assertThat(Endpoint.of("[2001:db8::7]", 443, "tls")).isEqualTo(Endpoint.of("2001:db8::7", 443, "tls"));
    }

    @Test
    void aHostWithAPortOrAnotherColonThatIsNoIpv6LiteralIsRejectedShowingTheValue() {
        assertThatThrownBy(() -> Endpoint.of("db:5432", 5432)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'db:5432'").hasMessageContaining("not an IPv6 literal")
                .hasMessageContaining("Endpoint.of(\"db\", 5432)");
        assertThatThrownBy(() -> Endpoint.of("example.com:80", 80)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'example.com:80'");
        assertThatThrownBy(() -> Endpoint.of("::1:::2", 80)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'::1:::2'");
        assertThatThrownBy(() -> Endpoint.of("[::1]:80", 80)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'[::1]:80'");
        // IPv6 literals in their usual forms stay accepted, zone and all.
        assertThat(Endpoint.of("::ffff:127.0.0.1", 80).host()).isEqualTo("::ffff:127.0.0.1");
        assertThat(Endpoint.of("0:0:0:0:0:0:0:1", 80)).hasToString("[0:0:0:0:0:0:0:1]:80");
        assertThat(Endpoint.of("fe80::1%no-such-interface", 80).host()).isEqualTo("fe80::1%no-such-interface");
    }

    @Test
    void aZonedHostWhoseAddressPartIsNoIpv6LiteralIsRejectedShowingTheValue() {
        // The address before '%' must itself hold a ':': "1.2.3.4" or "0" parse as IPv4, and
        // "db" or "cafe" are names the JDK would send to DNS.
        for (String host : new String[] {"1.2.3.4%eth0:80", "0%1:80", "db%1:5432", "cafe%eth0:1", "[1.2.3.4%eth0:80]"}) {
            assertThatThrownBy(() -> Endpoint.of(host, 80)).as(host).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'" + host + "'").hasMessageContaining("not an IPv6 literal");
        }
        assertThat(Endpoint.of("fe80::1%eth0", 80).host()).isEqualTo("fe80::1%eth0");
        assertThat(Endpoint.of("::ffff:1.2.3.4%2", 80).host()).isEqualTo("::ffff:1.2.3.4%2");
    }

    @Test
    void bracketsAroundAnythingButAnIpv6LiteralAreRejectedShowingTheValue() {
        for (String host : new String[] {"[db]", "[127.0.0.1]", "[::1", "::1]", "[]", "[[::1]]", "[ ::1]"}) {
            assertThatThrownBy(() -> Endpoint.of(host, 80)).as(host).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'" + host + "'");
        }
    }
}
