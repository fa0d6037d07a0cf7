package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import io.github.portkeeper.http.testing.TestCertificate;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A server that sends a whole bogus response right after each real one, in the same write: the
 * bogus one lands in HttpClient's own input buffer, where no socket check can see it. Such a
 * connection must never be pooled, or the next caller reads a response that belongs to nobody.
 * Over TLS the bogus one can also stay behind in the TLS socket, decrypted but not yet read.
 */
class StrayBytesTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private static final String STRAY = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray";

    @Test
    void noCallerEverReadsAResponseMeantForNobody() throws Exception {
        // Each response echoes its request's target, so every caller can tell whether it got its own.
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> Reply.ok(r.target(), STRAY)).start());
        leaks.track(server.address());
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("stray-bytes").maxPerEndpoint(4).build()).build());
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());

        int threads = 4;
        int perThread = 100;
        AtomicInteger wrong = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < perThread; i++) {
                        String target = "/t" + thread + "-" + i;
                        try {
                            String body = client.execute(new HttpGet(server.url(target)), r -> EntityUtils.toString(r.getEntity()));
                            if (!target.equals(body)) {
                                wrong.incrementAndGet();
                            }
                        } catch (Exception e) {
                            failed.incrementAndGet();
                        }
                    }
                }));
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(wrong.get()).as("responses delivered to the wrong caller").isZero();
        assertThat(failed.get()).as("failed requests").isZero();
        assertThat(server.requests()).hasSize(threads * perThread);
    }

    /**
     * The head in a TLS record of its own, then the body and a whole bogus response in one record.
     * HttpClient reads a body over 512 bytes straight into the caller's buffer, asking the TLS
     * socket for exactly the body: the rest of the record stays decrypted inside the socket, where
     * neither HttpClient's buffer nor a read of the raw channel sees it. A small body goes through
     * HttpClient's buffer, which takes the whole record; both must keep the bogus response from
     * the next caller.
     */
    @ParameterizedTest(name = "body of {0} bytes")
    @ValueSource(ints = {5, 2000})
    void overTlsNoCallerReadsAResponseLeftDecryptedInTheTlsSocket(int bodyLength) throws Exception {
        String stray = "HTTP/1.1 200 OK\r\nContent-Length: " + bodyLength + "\r\n\r\n" + padded("stray", bodyLength);
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().tls()
                .responder(r -> Reply.ok(padded(r.target(), bodyLength), stray).headInItsOwnWrite()).start());
        leaks.track(server.address());
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("stray-bytes-tls").maxPerEndpoint(1).build())
                .setTlsSocketStrategy(TestCertificate.trustingClientTls()).build());
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());

        String first = client.execute(new HttpGet(server.url("/1")), r -> EntityUtils.toString(r.getEntity()));
        String second = client.execute(new HttpGet(server.url("/2")), r -> EntityUtils.toString(r.getEntity()));

        assertThat(first).hasSize(bodyLength);
        assertThat(unpadded(first)).isEqualTo("/1");
        assertThat(second).hasSize(bodyLength);
        assertThat(unpadded(second)).as("whose response the second caller read").isEqualTo("/2");
        assertThat(server.requests().stream().map(ScriptedHttpServer.Request::target).collect(Collectors.toList()))
                .containsExactly("/1", "/2");
    }

    /** {@code text} filled up to {@code length} characters with dots (cut if longer). */
    private static String padded(String text, int length) {
        return (text + ".".repeat(Math.max(0, length - text.length()))).substring(0, length);
    }

    /** {@code body} without the dots it was {@linkplain #padded padded} with (short failure messages). */
    private static String unpadded(String body) {
        return body.replaceAll("\\.+$", "");
    }
}
