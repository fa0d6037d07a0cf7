package io.github.portkeeper.http;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.test.TallyListener;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A route through a Unix domain socket goes through that socket (HttpClient's
 * {@code RequestConfig.setUnixDomainSocket}), never silently over TCP to the host named in the
 * URL, and its connection is pooled like any other.
 */
class UnixDomainSocketTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    @TempDir
    Path dir;

    @Test
    void requestsForAUnixDomainSocketRouteGoThroughTheSocketAndReuseTheConnection() throws Exception {
        // The URL's host and port answer too (over TCP), so a request that went there would show.
        ScriptedHttpServer tcp = leaks.closeAfter(ScriptedHttpServer.builder().body("tcp").start());
        Path socket = dir.resolve("http.sock");
        AtomicInteger accepted = new AtomicInteger();
        ServerSocketChannel uds = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        uds.bind(UnixDomainSocketAddress.of(socket));
        leaks.closeAfter(uds);
        Thread server = new Thread(() -> serve(uds, accepted), "uds-http");
        server.setDaemon(true);
        server.start();

        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("uds").build()).build());
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .setDefaultRequestConfig(RequestConfig.custom().setUnixDomainSocket(socket).build()).build());

        for (int i = 0; i < 3; i++) {
            String body = client.execute(new HttpGet(tcp.url("/")), r -> EntityUtils.toString(r.getEntity()));
            assertThat(body).isEqualTo("uds");
        }
        assertThat(tcp.requests()).as("requests that went over TCP").isEmpty();
        assertThat(accepted.get()).as("connections over the Unix domain socket").isEqualTo(1);
    }

    @Test
    void aUnixDomainSocketConnectionIsNeverCountedAsATimeWaitCaused() throws Exception {
        ScriptedHttpServer tcp = leaks.closeAfter(ScriptedHttpServer.builder().body("tcp").start());
        Path socket = dir.resolve("http.sock");
        ServerSocketChannel uds = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        uds.bind(UnixDomainSocketAddress.of(socket));
        leaks.closeAfter(uds);
        Thread server = new Thread(() -> serve(uds, new AtomicInteger()), "uds-http");
        server.setDaemon(true);
        server.start();
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("uds-count").listener(tally).build()).build());
        CloseableHttpClient client = HttpClients.custom().setConnectionManager(manager)
                .setDefaultRequestConfig(RequestConfig.custom().setUnixDomainSocket(socket).build()).build();
        client.execute(new HttpGet(tcp.url("/")), r -> EntityUtils.toString(r.getEntity()));

        client.close(); // closes the pool, which disposes of the connection: no TCP, no TIME_WAIT anywhere

        await().atMost(Duration.ofSeconds(10)).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closed(Ending.LOCAL)).as("endings counted as a TIME_WAIT caused: %s", tally.closedEvents()).isZero();
    }

    /** A minimal keep-alive HTTP server on the socket: one thread, one connection at a time. */
    private static void serve(ServerSocketChannel uds, AtomicInteger accepted) {
        byte[] reply = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nuds".getBytes(StandardCharsets.US_ASCII);
        while (uds.isOpen()) {
            try (SocketChannel ch = uds.accept()) {
                accepted.incrementAndGet();
                ByteBuffer in = ByteBuffer.allocate(8192);
                StringBuilder pending = new StringBuilder();
                while (ch.read(in) > 0) {
                    in.flip();
                    pending.append(StandardCharsets.ISO_8859_1.decode(in));
                    in.clear();
                    int end;
                    while ((end = pending.indexOf("\r\n\r\n")) >= 0) {
                        pending.delete(0, end + 4);
                        ch.write(ByteBuffer.wrap(reply));
                    }
                }
            } catch (IOException closed) {
                return;
            }
        }
    }
}
