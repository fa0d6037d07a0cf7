package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A server that sends a whole bogus response right after each real one, in the same write: the
 * bogus one lands in HttpClient's own input buffer, where no socket check can see it. Such a
 * connection must never be pooled, or the next caller reads a response that belongs to nobody.
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
}
