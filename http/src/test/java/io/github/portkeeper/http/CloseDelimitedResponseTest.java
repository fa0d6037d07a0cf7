package io.github.portkeeper.http;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.testing.ConnectionThreads;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import io.github.portkeeper.http.testing.TestCertificate;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A response whose body ends with the connection ({@code HTTP/1.1}, neither a length nor chunks,
 * no {@code Connection: close}): the server closes to end it, so its FIN comes first, and the
 * pool leaves the close to it (PEER, credited in {@code timewait.avoided}) instead of resetting
 * a connection whose end it has already read. A body closed before its end, though, may never
 * end (an event stream): that connection is reset at once, not left to drain.
 */
class CloseDelimitedResponseTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    /** Generous: a loaded two-core machine. */
    private static final Duration PROMPTLY = Duration.ofSeconds(10);

    private static final byte[] CLOSE_DELIMITED = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody"
            .getBytes(StandardCharsets.ISO_8859_1);

    @Test
    void aBodyEndedByTheServersCloseEndsTheConnectionByThePeer() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> new Reply(CLOSE_DELIMITED, Duration.ZERO, true)).start());
        getsTheBodyAndEndsByThePeer(server, PortkeeperConnectionManager.builder(), "close-delimited");
    }

    @Test
    void overTlsABodyEndedByTheServersBareFinEndsTheConnectionByThePeer() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().tls()
                .responder(r -> new Reply(CLOSE_DELIMITED, Duration.ZERO, true)).start());
        getsTheBodyAndEndsByThePeer(server, PortkeeperConnectionManager.builder()
                .setTlsSocketStrategy(TestCertificate.trustingClientTls()), "close-delimited-tls");
    }

    @Test
    void overTlsABodyEndedByTheServersCloseNotifyAndFinEndsTheConnectionByThePeer() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().tlsWithCloseNotify()
                .responder(r -> new Reply(CLOSE_DELIMITED, Duration.ZERO, true)).start());
        getsTheBodyAndEndsByThePeer(server, PortkeeperConnectionManager.builder()
                .setTlsSocketStrategy(TestCertificate.trustingClientTls()), "close-delimited-close-notify");
    }

    private void getsTheBodyAndEndsByThePeer(ScriptedHttpServer server, PortkeeperConnectionManagerBuilder builder,
                                             String name) throws Exception {
        leaks.track(server.address());
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(leaks.closeAfter(builder
                .setPoolConfig(PoolConfig.builder().name(name).listener(tally).build()).build()));
        PoolMetrics metrics = new PoolMetrics(manager.pool());
        metrics.bindTo(new SimpleMeterRegistry());
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .disableAutomaticRetries().build());

        String body = client.execute(new HttpGet(server.url("/")), r -> EntityUtils.toString(r.getEntity()));

        assertThat(body).isEqualTo("body");
        await().atMost(PROMPTLY).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closedEvents()).extracting(TallyListener.Closed::ending).containsExactly(Ending.PEER);
        assertThat(metrics.timeWaitAvoided()).as("timewait.avoided").isEqualTo(1);
        assertThat(Kernel.clientTimeWait(server.address())).as(() -> Kernel.describe(server.address())).isZero();
    }

    @Test
    void anEndlessBodyEndedOnlyByTheServersCloseAndClosedEarlyIsResetAtOnceNotDrained() throws Exception {
        try (EventStreamServer server = new EventStreamServer()) {
            leaks.track(server.address());
            TallyListener tally = new TallyListener();
            PortkeeperConnectionManager manager = leaks.track(leaks.closeAfter(PortkeeperConnectionManager.builder()
                    .setPoolConfig(PoolConfig.builder().name("endless-close-delimited").listener(tally).build()).build()));
            CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                    .disableAutomaticRetries().build());

            ClassicHttpResponse response = client.executeOpen(null, new HttpGet(server.url()), HttpClientContext.create());
            InputStream body = response.getEntity().getContent();
            assertThat(body.readNBytes(10)).hasSize(10);
            response.close(); // the rest of an endless body is left unread

            // The drain timeout (30 s by default) is far beyond this wait: a connection left to
            // drain would keep taking the server's writes.
            assertThat(server.writeFailure()).as(() -> "a server write failing after the client walked away; pool "
                    + manager.pool().stats()).succeedsWithin(PROMPTLY);
            await().atMost(PROMPTLY).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).extracting(TallyListener.Closed::ending).containsExactly(Ending.RESET);
            assertThat(manager.pool().stats().draining()).as("draining").isZero();
            assertThat(Kernel.clientTimeWait(server.address())).as(() -> Kernel.describe(server.address())).isZero();
        }
    }

    /**
     * Answers one request with an HTTP/1.1 event stream delimited by the close (no length, no
     * chunks), then writes 20 bytes every 500 ms and never closes, until a write fails.
     */
    private static final class EventStreamServer implements AutoCloseable {

        private final ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final ScheduledExecutorService writer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "event-stream-server");
            t.setDaemon(true);
            return t;
        });
        private final CompletableFuture<IOException> writeFailure = new CompletableFuture<>();
        private volatile Socket accepted;

        EventStreamServer() throws IOException {
            writer.execute(this::serve);
        }

        InetSocketAddress address() {
            return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
        }

        String url() {
            return "http://" + listener.getInetAddress().getHostAddress() + ":" + listener.getLocalPort() + "/events";
        }

        /** The exception the first failed write threw. */
        CompletableFuture<IOException> writeFailure() {
            return writeFailure;
        }

        private void serve() {
            try {
                Socket socket = listener.accept();
                accepted = socket;
                InputStream in = socket.getInputStream();
                int matched = 0;
                while (matched < 4) { // up to the blank line after the request head
                    int b = in.read();
                    if (b < 0) {
                        throw new IOException("request head cut short");
                    }
                    matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
                }
                OutputStream out = socket.getOutputStream();
                out.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                writer.scheduleAtFixedRate(() -> {
                    try {
                        out.write("data: 0123456789ab\n\n".getBytes(StandardCharsets.US_ASCII)); // 20 bytes
                        out.flush();
                    } catch (IOException e) {
                        writeFailure.complete(e);
                        ConnectionThreads.closeQuietly(socket);
                        throw new IllegalStateException("stream ended", e); // no further runs
                    }
                }, 0, 500, TimeUnit.MILLISECONDS);
            } catch (IOException e) {
                writeFailure.completeExceptionally(e);
            }
        }

        @Override
        public void close() throws IOException {
            writer.shutdownNow();
            ConnectionThreads.closeQuietly(accepted);
            listener.close();
        }
    }
}
