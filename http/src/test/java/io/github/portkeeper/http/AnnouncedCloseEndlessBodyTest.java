package io.github.portkeeper.http;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.testing.ConnectionThreads;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.test.FreshPort;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
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
import java.io.UncheckedIOException;
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
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A response that announces the server's close ({@code Connection: close}) with a body framed by
 * chunks, closed by the caller before the body's end: the connection is never reused, so its
 * close does not read the rest of the body (HttpCore's chunked stream would, for good, if it never
 * ends) and the pool resets it at once instead of waiting for a FIN that only the body's end
 * would bring. A body read to its end still leaves the close to the server, gzip'd too (HttpClient
 * 5.5's gzip stream never reads the end of the body under it).
 */
class AnnouncedCloseEndlessBodyTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    /** Generous: a loaded two-core machine. The drain timeout (30 s by default) is far beyond it. */
    private static final Duration PROMPTLY = Duration.ofSeconds(10);

    @Test
    void anAnnouncedCloseChunkedBodyThatNeverEndsClosedEarlyIsResetAtOnceNotDrained() throws Exception {
        closedEarlyIsResetAtOnce(false);
    }

    @Test
    void anAnnouncedCloseGzipBodyThatNeverEndsClosedEarlyIsResetAtOnceNotDrained() throws Exception {
        closedEarlyIsResetAtOnce(true);
    }

    private void closedEarlyIsResetAtOnce(boolean gzip) throws Exception {
        try (EndlessServer server = new EndlessServer(gzip)) {
            leaks.track(server.address());
            TallyListener tally = new TallyListener();
            PortkeeperConnectionManager manager = leaks.track(leaks.closeAfter(PortkeeperConnectionManager.builder()
                    .setPoolConfig(PoolConfig.builder().name("announced-close-endless").listener(tally).build()).build()));
            CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                    .disableAutomaticRetries().build());

            ClassicHttpResponse response = client.executeOpen(null, new HttpGet(server.url()), HttpClientContext.create());
            assertThat(response.getEntity().getContent().readNBytes(10)).hasSize(10);
            CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> {
                try {
                    response.close(); // the rest of an endless body is left unread
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });

            assertThat(closing).as("the caller's close of the response").succeedsWithin(PROMPTLY);
            assertThat(server.writeFailure()).as(() -> "a server write failing after the client walked away; pool "
                    + manager.pool().stats()).succeedsWithin(PROMPTLY);
            await().atMost(PROMPTLY).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).extracting(TallyListener.Closed::ending).containsExactly(Ending.RESET);
            assertThat(manager.pool().stats().draining()).as("draining").isZero();
            assertThat(Kernel.clientTimeWait(server.address())).as(() -> Kernel.describe(server.address())).isZero();
        }
    }

    @Test
    void anAnnouncedCloseGzipBodyReadToItsEndEndsByThePeer() throws Exception {
        try (FiniteGzipServer server = new FiniteGzipServer()) {
            leaks.track(server.address());
            TallyListener tally = new TallyListener();
            PortkeeperConnectionManager manager = leaks.track(leaks.closeAfter(PortkeeperConnectionManager.builder()
                    .setPoolConfig(PoolConfig.builder().name("announced-close-gzip").listener(tally).build()).build()));
            CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                    .disableAutomaticRetries().build());

            String body = client.execute(new HttpGet(server.url()), r -> EntityUtils.toString(r.getEntity()));

            assertThat(body).isEqualTo(FiniteGzipServer.BODY);
            await().atMost(PROMPTLY).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).extracting(TallyListener.Closed::ending).containsExactly(Ending.PEER);
            assertThat(Kernel.clientTimeWait(server.address())).as(() -> Kernel.describe(server.address())).isZero();
        }
    }

    /** The head of a chunked response that announces the close; gzip'd if asked. */
    private static byte[] head(boolean gzip) {
        return ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
                + "Transfer-Encoding: chunked\r\n" + (gzip ? "Content-Encoding: gzip\r\n" : "") + "\r\n")
                .getBytes(StandardCharsets.US_ASCII);
    }

    /** Reads up to the blank line after a request head. */
    private static void readRequestHead(InputStream in) throws IOException {
        int matched = 0;
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("request head cut short");
            }
            matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
        }
    }

    /**
     * Answers one request with an endless chunked event stream that announces the close (gzip'd
     * if asked): 20 bytes every 500 ms, never the last chunk, until a write fails.
     */
    private static final class EndlessServer implements AutoCloseable {

        private final ServerSocket listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50);
        private final boolean gzip;
        private final ScheduledExecutorService writer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "endless-chunked-server");
            t.setDaemon(true);
            return t;
        });
        private final CompletableFuture<IOException> writeFailure = new CompletableFuture<>();
        private volatile Socket accepted;

        EndlessServer(boolean gzip) throws IOException {
            this.gzip = gzip;
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
                readRequestHead(socket.getInputStream());
                OutputStream raw = socket.getOutputStream();
                raw.write(head(gzip));
                raw.flush();
                OutputStream chunks = new ChunkPerWrite(raw);
                OutputStream out = gzip ? new GZIPOutputStream(chunks, true) : chunks;
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

    /** Answers one request with a short gzip'd chunked body that announces the close, then closes. */
    private static final class FiniteGzipServer implements AutoCloseable {

        static final String BODY = "data: 0123456789ab\n\n".repeat(50);

        private final ServerSocket listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50);
        private final Thread thread = new Thread(this::serve, "finite-gzip-server");
        private volatile Socket accepted;

        FiniteGzipServer() throws IOException {
            thread.setDaemon(true);
            thread.start();
        }

        InetSocketAddress address() {
            return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
        }

        String url() {
            return "http://" + listener.getInetAddress().getHostAddress() + ":" + listener.getLocalPort() + "/gzip";
        }

        private void serve() {
            try (Socket socket = listener.accept()) {
                accepted = socket;
                readRequestHead(socket.getInputStream());
                OutputStream raw = socket.getOutputStream();
                raw.write(head(true));
                try (GZIPOutputStream gzip = new GZIPOutputStream(new ChunkPerWrite(raw))) {
                    gzip.write(BODY.getBytes(StandardCharsets.US_ASCII));
                }
                raw.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                raw.flush();
                // the close it announced: a FIN after the body (try-with-resources)
            } catch (IOException e) {
                // the test fails on what the client saw
            }
        }

        @Override
        public void close() throws Exception {
            ConnectionThreads.closeQuietly(accepted);
            listener.close();
            thread.join(5_000);
        }
    }

    /** Sends each write as one chunk; closing sends no last chunk and closes nothing. */
    private static final class ChunkPerWrite extends OutputStream {

        private final OutputStream out;

        ChunkPerWrite(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return;
            }
            out.write((Integer.toHexString(len) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(b, off, len);
            out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }

        @Override
        public void close() throws IOException {
            out.flush();
        }
    }
}
