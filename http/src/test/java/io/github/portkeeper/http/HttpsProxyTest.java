package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import io.github.portkeeper.http.testing.TestCertificate;
import io.github.portkeeper.http.testing.TlsTunnelProxy;
import io.github.portkeeper.test.TallyListener;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.HttpHeaders;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * HTTPS to the target through an HTTPS proxy: two TLS layers over one channel. Closing such a
 * connection releases everything it held (its socket and the selector it waits with), whichever
 * way it ends, and a cancel wakes a reader blocked on it. The proxy's TLS socket sits between
 * HttpClient's TLS socket and ours, so this only holds if the connection closes the plain socket
 * at the bottom of the stack itself.
 */
class HttpsProxyTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private static final Duration PROMPTLY = Duration.ofSeconds(10);

    private PortkeeperConnectionManager manager(String name, TallyListener tally) throws Exception {
        return leaks.track(leaks.closeAfter(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name(name).listener(tally).build())
                .setDefaultSocketConfig(SocketConfig.custom().setSoTimeout(Timeout.ofSeconds(60)).build())
                .setTlsSocketStrategy(TestCertificate.trustingClientTls()) // the proxy's certificate and the target's
                .build()));
    }

    private CloseableHttpClient client(PortkeeperConnectionManager manager, TlsTunnelProxy proxy) {
        return leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries()
                .setProxy(new HttpHost("https", "127.0.0.1", proxy.port())).build());
    }

    /** A GET asking the server to close the connection after its response, as the server then announces. */
    private static HttpGet closing(String url) {
        HttpGet get = new HttpGet(url);
        get.setHeader(HttpHeaders.CONNECTION, "close");
        return get;
    }

    private static String body(CloseableHttpClient client, HttpGet get) throws IOException {
        return client.execute(get, r -> EntityUtils.toString(r.getEntity()));
    }

    /** This process's open descriptors that are sockets or selectors (an epoll instance, its wakeup eventfd). */
    private static long socketAndSelectorDescriptors() throws IOException {
        long n = 0;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path fd : fds) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException closedMeanwhile) {
                    continue;
                }
                if (target.startsWith("socket:") || target.equals("anon_inode:[eventpoll]") || target.equals("anon_inode:[eventfd]")) {
                    n++;
                }
            }
        }
        return n;
    }

    @Test
    void connectionsThroughAnHttpsProxyReleaseTheirSocketsAndSelectorsOnceClosed() throws Exception {
        ScriptedHttpServer target = leaks.closeAfter(ScriptedHttpServer.builder().tls().start());
        TlsTunnelProxy proxy = leaks.closeAfter(new TlsTunnelProxy());
        leaks.track(proxy.address());
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = manager("https-proxy-close", tally);
        CloseableHttpClient client = client(manager, proxy);
        String url = target.url("/");
        // One first, so what the pool and the servers keep for their lifetime is in the baseline.
        assertThat(body(client, closing(url))).isNotEmpty();
        await().atMost(PROMPTLY).until(() -> tally.closedTotal() == 1 && target.openConnections() == 0);
        long baseline = socketAndSelectorDescriptors();

        int connections = 20;
        for (int i = 0; i < connections; i++) {
            assertThat(body(client, closing(url))).isNotEmpty();
        }

        assertThat(proxy.connectLines()).hasSize(connections + 1);
        await().atMost(PROMPTLY).until(() -> tally.closedTotal() == connections + 1);
        await("sockets and selectors back to the baseline of " + baseline).atMost(PROMPTLY).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> assertThat(socketAndSelectorDescriptors()).isLessThanOrEqualTo(baseline));
    }

    @Test
    void cancellingARequestThroughAnHttpsProxyWakesItsBlockedBodyReadAndReleasesTheConnection() throws Exception {
        byte[] head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial".getBytes(StandardCharsets.US_ASCII);
        ScriptedHttpServer target = leaks.closeAfter(ScriptedHttpServer.builder().tls()
                .responder(r -> r.target().equals("/stall") ? new Reply(head, Duration.ZERO, false) : Reply.ok("warm", ""))
                .start());
        TlsTunnelProxy proxy = leaks.closeAfter(new TlsTunnelProxy());
        leaks.track(proxy.address());
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = manager("https-proxy-cancel", tally);
        CloseableHttpClient client = client(manager, proxy);
        // One first, on its own connection closed after, so the baseline holds what lasts.
        assertThat(body(client, closing(target.url("/warm")))).isEqualTo("warm");
        await().atMost(PROMPTLY).until(() -> tally.closedTotal() == 1 && target.openConnections() == 0);
        long baseline = socketAndSelectorDescriptors();

        HttpGet get = new HttpGet(target.url("/stall"));
        CountDownLatch headRead = new CountDownLatch(1);
        CompletableFuture<byte[]> reading = CompletableFuture.supplyAsync(() -> {
            try {
                return client.execute(get, r -> {
                    headRead.countDown();
                    return EntityUtils.toByteArray(r.getEntity());
                });
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(headRead.await(PROMPTLY.toMillis(), TimeUnit.MILLISECONDS)).as("response head read").isTrue();

        get.cancel();

        assertThatThrownBy(() -> reading.get(PROMPTLY.toMillis(), TimeUnit.MILLISECONDS)).isInstanceOf(ExecutionException.class);
        await().atMost(PROMPTLY).until(() -> tally.closedTotal() == 2);
        await("sockets and selectors back to the baseline of " + baseline).atMost(PROMPTLY).pollInterval(Duration.ofMillis(50))
                .untilAsserted(() -> assertThat(socketAndSelectorDescriptors()).isLessThanOrEqualTo(baseline));
    }
}
