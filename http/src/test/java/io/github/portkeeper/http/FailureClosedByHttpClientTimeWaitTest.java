package io.github.portkeeper.http;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import io.github.portkeeper.http.testing.SilentServer;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.config.TlsConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * A connection HttpClient closes itself, behind the pool's back, after a failure on a live TCP
 * connection (a TLS handshake that times out, a response head it cannot parse) leaves no client
 * TIME_WAIT the pool does not count: its socket is held with SO_LINGER 0, so that close is an RST,
 * as the ending the pool records (a failed connect, or RESET) says.
 */
class FailureClosedByHttpClientTimeWaitTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    /** Generous: a loaded two-core machine. */
    private static final Duration PROMPTLY = Duration.ofSeconds(10);

    private CloseableHttpClient client(String name, TallyListener tally, TlsConfig tls) {
        return client(name, tally, tls, SocketConfig.DEFAULT);
    }

    private CloseableHttpClient client(String name, TallyListener tally, TlsConfig tls, SocketConfig sockets) {
        return leaks.closeAfter(HttpClients.custom().setConnectionManager(manager(name, tally, tls, sockets))
                .disableAutomaticRetries().build());
    }

    private PortkeeperConnectionManager manager(String name, TallyListener tally, TlsConfig tls, SocketConfig sockets) {
        return leaks.track(leaks.closeAfter(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name(name).listener(tally).build())
                .setDefaultTlsConfig(tls)
                .setDefaultSocketConfig(sockets)
                .build()));
    }

    /**
     * Once the one connection (or failed connect) is recorded and the server's side is gone, the
     * kernel's client TIME_WAIT toward {@code server} equals the connections recorded LOCAL.
     */
    private static void kernelAgreesWithTheTally(InetSocketAddress server, TallyListener tally) {
        await().atMost(PROMPTLY).until(() -> tally.closedTotal() + tally.connectFailed() == 1);
        await("client sockets toward " + server + " settled").atMost(PROMPTLY).pollInterval(Duration.ofMillis(10))
                .untilAsserted(() -> assertThat(Kernel.clientEstablished(server) + Kernel.clientCloseWait(server)
                        + Kernel.toward(server, TcpState.FIN_WAIT1) + Kernel.toward(server, TcpState.FIN_WAIT2)
                        + Kernel.toward(server, TcpState.CLOSING) + Kernel.toward(server, TcpState.LAST_ACK))
                        .as(() -> Kernel.describe(server)).isZero());
        assertThat(Kernel.clientTimeWait(server))
                .as(() -> "client TIME_WAIT vs the tally's LOCAL count (" + tally.closedEvents() + "); " + Kernel.describe(server))
                .isEqualTo(tally.closed(Ending.LOCAL));
    }

    @Test
    void tlsHandshakeTimeoutLeavesNoClientTimeWaitThePoolDidNotCount() throws Exception {
        SilentServer silent = leaks.closeAfter(SilentServer.start()); // accepts, never answers the ClientHello
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), silent.port());
        TallyListener tally = new TallyListener();
        CloseableHttpClient client = client("tls-timeout-linger", tally,
                TlsConfig.custom().setHandshakeTimeout(Timeout.ofMilliseconds(300)).build());

        assertThatThrownBy(() -> client.execute(new HttpGet("https://127.0.0.1:" + silent.port() + "/"),
                r -> EntityUtils.toString(r.getEntity()))).isInstanceOf(IOException.class);
        silent.close(); // the server closes its side

        kernelAgreesWithTheTally(address, tally);
        // The handshake is part of the connect: a failed connect, never an opened connection.
        assertThat(tally.connectFailed()).as("connects failed").isEqualTo(1);
        assertThat(tally.opened()).as("connections opened").isZero();
        assertThat(tally.closedEvents()).as("connections closed").isEmpty();
        assertThat(tally.closed(Ending.FAILED)).as("closed{failed}, as the meter counts it").isEqualTo(1);
    }

    /**
     * A linger of the user's own ({@code SocketConfig}) would make HttpClient's close after the
     * failed handshake a FIN, and so a client TIME_WAIT, while the pool records FAILED: the socket
     * keeps SO_LINGER 0 until the connection is connected, TLS included.
     */
    @Test
    void tlsHandshakeTimeoutWithTheUsersLingerLeavesNoClientTimeWaitThePoolDidNotCount() throws Exception {
        SilentServer silent = leaks.closeAfter(SilentServer.start()); // accepts, never answers the ClientHello
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), silent.port());
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = manager("tls-timeout-user-linger", tally,
                TlsConfig.custom().setHandshakeTimeout(Timeout.ofMilliseconds(200)).build(),
                SocketConfig.custom().setSoLinger(TimeValue.ofSeconds(5)).build());
        PoolMetrics metrics = new PoolMetrics(manager.pool());
        metrics.bindTo(new SimpleMeterRegistry());
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .disableAutomaticRetries().build());

        assertThatThrownBy(() -> client.execute(new HttpGet("https://127.0.0.1:" + silent.port() + "/"),
                r -> EntityUtils.toString(r.getEntity()))).isInstanceOf(IOException.class);
        silent.close(); // the server closes its side

        kernelAgreesWithTheTally(address, tally);
        // A failed connect (the handshake is part of it), never an opened or closed connection.
        assertThat(tally.connectFailed()).as("connects failed").isEqualTo(1);
        assertThat(tally.closedEvents()).as("connections closed").isEmpty();
        assertThat(tally.closed(Ending.FAILED)).as("closed{failed}, as the meter counts it").isEqualTo(1);
        assertThat(metrics.timeWaitCaused()).as("portkeeper.timewait.caused").isEqualTo(Kernel.clientTimeWait(address));
    }

    @Test
    void unparsableResponseHeadLeavesNoClientTimeWaitThePoolDidNotCount() throws Exception {
        byte[] badHead = "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .closeIdleAfter(Duration.ofMillis(200)) // and so closes its side after the failure
                .responder(r -> new Reply(badHead, Duration.ZERO, false))
                .start());
        leaks.track(server.address());
        TallyListener tally = new TallyListener();
        CloseableHttpClient client = client("bad-head-linger", tally, TlsConfig.DEFAULT);

        assertThatThrownBy(() -> client.execute(new HttpGet(server.url("/")), r -> EntityUtils.toString(r.getEntity())))
                .isInstanceOf(IOException.class);
        await().atMost(PROMPTLY).until(() -> server.ended().size() == 1);

        kernelAgreesWithTheTally(server.address(), tally);
        assertThat(tally.closedEvents()).extracting(TallyListener.Closed::ending).containsExactly(Ending.RESET);
    }

    /**
     * From the first exchange on the user's linger applies: HttpClient's own close after the
     * failed exchange is a FIN, and the pool records the TIME_WAIT it leaves (LOCAL), not RESET.
     */
    @Test
    void unparsableResponseHeadWithTheUsersLingerIsRecordedLocalAsTheKernelClosedIt() throws Exception {
        byte[] badHead = "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .closeIdleAfter(Duration.ofMillis(200)) // and so closes its side after the failure
                .responder(r -> new Reply(badHead, Duration.ZERO, false))
                .start());
        leaks.track(server.address());
        TallyListener tally = new TallyListener();
        CloseableHttpClient client = client("bad-head-user-linger", tally, TlsConfig.DEFAULT,
                SocketConfig.custom().setSoLinger(TimeValue.ofSeconds(5)).build());

        assertThatThrownBy(() -> client.execute(new HttpGet(server.url("/")), r -> EntityUtils.toString(r.getEntity())))
                .isInstanceOf(IOException.class);
        await().atMost(PROMPTLY).until(() -> server.ended().size() == 1);

        kernelAgreesWithTheTally(server.address(), tally);
        assertThat(tally.closedEvents()).extracting(TallyListener.Closed::ending).containsExactly(Ending.LOCAL);
    }
}
