package io.github.portkeeper.cli.lab;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.TcpState;
import org.junit.jupiter.api.Test;

import java.io.BufferedInputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class EmbeddedServerTest {

    private static final byte[] GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    @Test
    void keepsConnectionsAliveAndClosesIdleOnesFirstItself() throws Exception {
        try (EmbeddedServer server = EmbeddedServer.start(Duration.ofMillis(200));
             Socket s = new Socket(server.address().getAddress(), server.port())) {
            s.setSoTimeout(5_000);
            InputStream in = new BufferedInputStream(s.getInputStream());
            for (int i = 0; i < 3; i++) {
                s.getOutputStream().write(GET);
                assertThat(NaiveClient.readResponse(in).status()).isEqualTo(200);
            }
            assertThat(server.accepted()).isEqualTo(1);
            assertThat(server.served()).isEqualTo(3);

            assertThat(in.read()).as("the server's FIN after 200 ms idle").isEqualTo(-1);
            assertThat(server.idleClosed()).isEqualTo(1);
            assumeTrue(KernelProbe.linux().isAvailable(), "the kernel probe needs Linux");
            s.shutdownOutput(); // our FIN after the server's: a passive close, the TIME_WAIT is the server's
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10)).untilAsserted(() -> {
                var table = KernelProbe.linux().snapshot();
                assertThat(table.countOnLocalPort(TcpState.TIME_WAIT, server.port())).isEqualTo(1);
                assertThat(table.countToRemote(TcpState.TIME_WAIT, server.address())).isZero();
            });
        }
    }

    @Test
    void announcesItsIdleTimeoutAndHonoursConnectionClose() throws Exception {
        try (EmbeddedServer server = EmbeddedServer.start(Duration.ofSeconds(2));
             Socket s = new Socket(server.address().getAddress(), server.port())) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);

            assertThat(response).startsWith("HTTP/1.1 200 OK\r\n").contains("Connection: close\r\n").endsWith("ok\n");
        }
        try (EmbeddedServer server = EmbeddedServer.start(Duration.ofSeconds(2));
             Socket s = new Socket(server.address().getAddress(), server.port())) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write(GET);
            byte[] head = new byte[200];
            int n = s.getInputStream().read(head);
            assertThat(new String(head, 0, n, StandardCharsets.US_ASCII)).contains("Keep-Alive: timeout=2\r\n");
        }
    }

    @Test
    void listensOutsideTheEphemeralRangeOnAPortNoEarlierServerHad() throws Exception {
        HostFacts host = HostFacts.read();
        try (EmbeddedServer a = EmbeddedServer.start(Duration.ofSeconds(1));
             EmbeddedServer b = EmbeddedServer.start(Duration.ofSeconds(1))) {
            assertThat(a.port()).isNotEqualTo(b.port());
            if (host.known()) {
                assertThat(host.isEphemeral(a.port())).isFalse();
                assertThat(host.isEphemeral(b.port())).isFalse();
            }
        }
    }
}
