package io.github.portkeeper.cli.lab;

import io.github.portkeeper.core.ConnectFailedException;
import io.github.portkeeper.core.Endpoint;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

class FailuresTest {

    @Test
    void cannotAssignRequestedAddressIsNamedEaddrnotavailHoweverDeepItIsWrapped() {
        BindException bind = new BindException("Cannot assign requested address");

        assertThat(Failures.causeOf(bind)).isEqualTo("EADDRNOTAVAIL");
        assertThat(Failures.causeOf(new IOException("lease failed", new IOException("connect failed", bind))))
                .isEqualTo("EADDRNOTAVAIL");
    }

    @Test
    void otherCausesGetTheirErrnoNameOrTheirClass() {
        assertThat(Failures.causeOf(new ConnectException("Connection refused"))).isEqualTo("ECONNREFUSED");
        assertThat(Failures.causeOf(new SocketTimeoutException("Read timed out"))).startsWith("timeout");
        assertThat(Failures.causeOf(new LabClient.HttpStatusException(503))).isEqualTo("HTTP 503");
        assertThat(Failures.causeOf(new IllegalStateException("x"))).isEqualTo("IllegalStateException");
    }

    @Test
    void portkeeperConnectFailureIsNamedByItsCause() {
        ConnectFailedException e = new ConnectFailedException(Endpoint.of("127.0.0.1", 8080),
                new BindException("Cannot assign requested address"));

        assertThat(Failures.causeOf(e)).isEqualTo("EADDRNOTAVAIL");
    }
}
