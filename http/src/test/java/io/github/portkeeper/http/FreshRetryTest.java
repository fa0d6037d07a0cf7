package io.github.portkeeper.http;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import io.github.portkeeper.test.TallyListener;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.github.resilience4j.retry.RetryConfig;
import org.apache.hc.core5.http.NoHttpResponseException;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A request retried after its reused connection turned out dead goes out on a new connection,
 * and getting one costs none of the healthy pooled connections. Garbage where a response head
 * should be, on a reused connection, counts as a dead connection too.
 */
class FreshRetryTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private final TallyListener tally = new TallyListener();

    private PortkeeperConnectionManager manager;

    private CloseableHttpClient client(String name, PoolMetrics[] metrics) {
        manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name(name).maxPerEndpoint(4).listener(tally).build()).build());
        metrics[0] = new PoolMetrics(manager.pool());
        metrics[0].bindTo(new SimpleMeterRegistry());
        return leaks.closeAfter(PortkeeperHttpClients.custom().connectionManager(manager).build());
    }

    private static String get(CloseableHttpClient client, String url) throws Exception {
        return client.execute(new HttpGet(url), r -> EntityUtils.toString(r.getEntity()));
    }

    @Test
    void retryAfterADeadConnectionTakesANewOneAndRetiresNoHealthyOne() throws Exception {
        // Every connection answers its first request (slowly, so four open side by side) and
        // dies on its second: read in full, closed unanswered.
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().dropRequest(2)
                .responder(r -> Reply.ok("ok", "").after(r.target().equals("/warm") ? Duration.ofMillis(300) : Duration.ZERO))
                .start());
        leaks.track(server.address());
        PoolMetrics[] metrics = new PoolMetrics[1];
        CloseableHttpClient client = client("fresh-retry", metrics);
        List<CompletableFuture<String>> warm = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            warm.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return get(client, server.url("/warm"));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        for (CompletableFuture<String> w : warm) {
            assertThat(w.get(10, TimeUnit.SECONDS)).isEqualTo("ok");
        }
        assertThat(server.acceptedPorts()).hasSize(4);

        int served = 4;
        for (int i = 0; i < 8; i++, served++) {
            assertThat(get(client, server.url("/next"))).isEqualTo("ok");
        }

        // Each request met one dead connection and was retried on one new connection.
        assertThat(server.acceptedPorts()).as("connections opened").hasSize(4 + 8);
        // Making room for a new connection would evict an idle one: none was, retired or evicted.
        assertThat(tally.retiringReasons()).as("healthy connections retired to find a fresh one")
                .doesNotContain(CloseReason.RETIRED, CloseReason.EVICTED);
        assertThat(tally.closed(CloseReason.EVICTED)).as("healthy connections evicted: " + tally).isZero();
        assertThat(manager.pool().stats().idle()).as("the three first connections and the last new one, all pooled").isEqualTo(4);
        assertThat(metrics[0].timeWaitAvoided()).as("timewait.avoided against %d requests served", served).isLessThanOrEqualTo(served);
    }

    /** Answers every request but those to {@code /flaky}, which it reads and closes unanswered. */
    private ScriptedHttpServer flakyServer() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> r.target().equals("/flaky") ? new Reply(new byte[0], Duration.ZERO, true) : Reply.ok("ok", ""))
                .start());
        leaks.track(server.address());
        return server;
    }

    private CloseableHttpClient clientOfAttempts(String name, int maxAttempts) {
        manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name(name).listener(tally).build()).build());
        return leaks.closeAfter(PortkeeperHttpClients.custom().connectionManager(manager)
                .retryConfig(RetryConfig.custom().maxAttempts(maxAttempts).waitDuration(Duration.ZERO).build())
                .build());
    }

    @Test
    void withThreeAttemptsARequestWhoseRetryGetsNoResponseEitherIsRetriedOnceMore() throws Exception {
        ScriptedHttpServer server = flakyServer();
        CloseableHttpClient client = clientOfAttempts("three-attempts", 3);
        assertThat(get(client, server.url("/warm"))).isEqualTo("ok"); // pooled: the next request reuses it

        assertThatThrownBy(() -> get(client, server.url("/flaky"))).isInstanceOf(NoHttpResponseException.class);

        assertThat(server.requests("GET").stream().filter(r -> r.target().equals("/flaky")))
                .as("the attempt on the reused connection, then two on new ones").hasSize(3);
        assertThat(server.acceptedPorts()).hasSize(3);
    }

    @Test
    void withThreeAttemptsARequestThatGetsNoResponseOnANewConnectionAtItsFirstAttemptIsNotRetried() throws Exception {
        ScriptedHttpServer server = flakyServer();
        CloseableHttpClient client = clientOfAttempts("three-attempts-new", 3);

        assertThatThrownBy(() -> get(client, server.url("/flaky"))).isInstanceOf(NoHttpResponseException.class);

        assertThat(server.requests()).as("not a dead pooled connection: the server itself did not answer").hasSize(1);
    }

    @Test
    void garbageInsteadOfAResponseOnAReusedConnectionIsRetriedOnANewOne() throws Exception {
        byte[] garbage = "XYZZY nonsense\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> r.numberOnConnection() == 2 ? new Reply(garbage, Duration.ZERO, true) : Reply.ok("ok", ""))
                .start());
        leaks.track(server.address());
        CloseableHttpClient client = client("parse-retry", new PoolMetrics[1]);

        assertThat(get(client, server.url("/1"))).isEqualTo("ok");
        assertThat(get(client, server.url("/2"))).isEqualTo("ok");

        assertThat(server.acceptedPorts()).as("the retry went out on a new connection").hasSize(2);
        assertThat(server.requests()).hasSize(3);
    }
}
