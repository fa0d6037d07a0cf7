package io.github.portkeeper.http;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.http.testing.FreshWireMock;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ServerConnections;
import io.github.portkeeper.test.TallyListener;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.io.ModalCloseable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.ok;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

/**
 * Issue 4, acceptance 8: a connection whose response was not fully read is never handed to the
 * next caller with the rest of that response still in its stream.
 *
 * <p>HttpClient 5.6 gives two ways to walk away from a body: a graceful close of the response
 * (also what {@code execute(request, handler)} does when the handler throws) reads the rest of
 * the body to the end and then releases the connection, which is then in step and rightly reused;
 * an immediate close or a cancel leaves the body unread, and that connection must never be reused.
 */
class UnconsumedResponseTest {

    private static final int LARGE = 1024 * 1024;

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private final ServerConnections accepted = ServerConnections.counting();
    private final TallyListener tally = new TallyListener();
    private WireMockServer wireMock;
    private InetSocketAddress address;
    private CloseableHttpClient client;

    @BeforeEach
    void start() {
        wireMock = FreshWireMock.http(o -> o.gzipDisabled(true)
                .networkTrafficListener(accepted));
        leaks.closeAfter(wireMock::stop);
        byte[] large = new byte[LARGE];
        Arrays.fill(large, (byte) 'x');
        wireMock.stubFor(get("/large").willReturn(aResponse().withStatus(200).withBody(large)));
        wireMock.stubFor(get("/small").willReturn(ok("small")));
        address = leaks.track(new InetSocketAddress("127.0.0.1", wireMock.port()));
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .poolConfig(PoolConfig.builder().name("unconsumed").listener(tally).build()).build());
        client = leaks.closeAfter(PortkeeperHttpClients.custom().connectionManager(manager).build());
    }

    private String url(String path) {
        return "http://127.0.0.1:" + wireMock.port() + path;
    }

    @Test
    void responseClosedImmediatelyBeforeItsBodyWasReadNeverHandsItsConnectionToTheNextCaller() throws Exception {
        HttpClientContext first = HttpClientContext.create();
        ClassicHttpResponse response = client.executeOpen(null, new HttpGet(url("/large")), first);
        assertThat(response.getCode()).isEqualTo(200);
        ((ModalCloseable) response).close(CloseMode.IMMEDIATE); // the body is left unread

        assertNextRequestGoesOutOnAnotherConnection(first);
    }

    @Test
    void requestCancelledHalfwayThroughItsBodyNeverHandsItsConnectionToTheNextCaller() throws Exception {
        HttpClientContext first = HttpClientContext.create();
        HttpGet large = new HttpGet(url("/large"));
        ClassicHttpResponse response = client.executeOpen(null, large, first);
        InputStream body = response.getEntity().getContent();
        assertThat(body.readNBytes(1024)).hasSize(1024);
        large.cancel(); // the rest of the body is left unread
        // The aborted connection cannot be read to the end any more: a graceful close may say so,
        // as it does with HttpClient's own pool.
        assertThat(catchThrowable(response::close)).satisfiesAnyOf(
                t -> assertThat(t).isNull(), t -> assertThat(t).isInstanceOf(IOException.class));

        assertNextRequestGoesOutOnAnotherConnection(first);
    }

    @Test
    void responseClosedGracefullyBeforeItsBodyWasReadIsReadToItsEndSoItsConnectionIsReusedInStep() throws Exception {
        HttpClientContext first = HttpClientContext.create();
        try (ClassicHttpResponse response = client.executeOpen(null, new HttpGet(url("/large")), first)) {
            assertThat(response.getCode()).isEqualTo(200);
        } // HttpClient reads the rest of the body before it gives the connection back

        HttpClientContext second = HttpClientContext.create();
        String body = client.execute(new HttpGet(url("/small")), second, r -> EntityUtils.toString(r.getEntity()));

        assertThat(body).as("the next caller reads its own response, not the rest of the last one").isEqualTo("small");
        assertThat(localPort(second)).isEqualTo(localPort(first));
        assertThat(tally.opened()).isEqualTo(1);
        assertThat(accepted.opened()).isEqualTo(1);
    }

    private void assertNextRequestGoesOutOnAnotherConnection(HttpClientContext first) throws Exception {
        HttpClientContext second = HttpClientContext.create();
        String body = client.execute(new HttpGet(url("/small")), second, r -> EntityUtils.toString(r.getEntity()));

        assertThat(body).isEqualTo("small");
        assertThat(localPort(second)).as("the next request's connection").isNotEqualTo(localPort(first));
        assertThat(tally.opened()).isEqualTo(2);
        assertThat(tally.reused()).isZero();
        assertThat(accepted.opened()).isEqualTo(2);
        // Bytes were in flight on it: it was reset, which leaves no TIME_WAIT either.
        await().atMost(Duration.ofSeconds(10)).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closedEvents()).singleElement().satisfies(c -> assertThat(c.ending()).isEqualTo(Ending.RESET));
        assertThat(Kernel.clientTimeWait(address)).as(() -> Kernel.describe(address)).isZero();
    }

    private static int localPort(HttpClientContext context) {
        return ((InetSocketAddress) context.getEndpointDetails().getLocalAddress()).getPort();
    }
}
