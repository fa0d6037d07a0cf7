package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.DefaultHttpRequestRetryStrategy;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.http.ConnectionRequestTimeoutException;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

/**
 * What {@link PortkeeperHttpClients.Builder#customize} promises: HttpClient settings given there
 * are applied last and override what Portkeeper set.
 */
class HttpClientCustomizationTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private ScriptedHttpServer server(ScriptedHttpServer.Responder responder) throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().responder(responder).start());
        leaks.track(server.address());
        return server;
    }

    private static Reply status(int code, String reason, String headers) {
        return new Reply(("HTTP/1.1 " + code + " " + reason + "\r\n" + headers + "Content-Length: 0\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1), Duration.ZERO, false);
    }

    /**
     * Holds the one connection the pool allows with a slow request, then asks for another: how
     * long the second request waits for a connection is the connection request timeout.
     */
    private static Throwable secondRequestWhileTheOnlyConnectionIsBusy(ScriptedHttpServer server, CloseableHttpClient client)
            throws Exception {
        CompletableFuture<String> slow = CompletableFuture.supplyAsync(() -> {
            try {
                return client.execute(new HttpGet(server.url("/slow")), r -> EntityUtils.toString(r.getEntity()));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> server.requests().size() == 1);
        Throwable failure = catchThrowable(() -> client.execute(new HttpGet(server.url("/second")),
                r -> EntityUtils.toString(r.getEntity())));
        assertThat(slow.get(20, TimeUnit.SECONDS)).isEqualTo("late");
        return failure;
    }

    private ScriptedHttpServer slowServer() throws Exception {
        return server(r -> r.target().equals("/slow") ? Reply.ok("late", "").after(Duration.ofMillis(1_500)) : Reply.ok("ok", ""));
    }

    @Test
    void aDefaultRequestConfigGivenThroughCustomizeWithoutAConnectionRequestTimeoutKeepsThePoolsLeaseTimeout() throws Exception {
        ScriptedHttpServer server = slowServer();
        CloseableHttpClient client = leaks.closeAfter(PortkeeperHttpClients.custom()
                .poolConfig(PoolConfig.builder().name("lease-timeout-kept").maxPerEndpoint(1).leaseTimeout(Duration.ofMillis(300)).build())
                .customize(b -> b.setDefaultRequestConfig(RequestConfig.custom().setResponseTimeout(Timeout.ofSeconds(30)).build()))
                .build());

        Throwable failure = secondRequestWhileTheOnlyConnectionIsBusy(server, client);

        assertThat(failure).as("the pool's lease timeout of 300 ms, not HttpClient's 3 minutes")
                .isInstanceOf(ConnectionRequestTimeoutException.class);
    }

    @Test
    void aConnectionRequestTimeoutSetThroughCustomizeIsKept() throws Exception {
        ScriptedHttpServer server = slowServer();
        CloseableHttpClient client = leaks.closeAfter(PortkeeperHttpClients.custom()
                .poolConfig(PoolConfig.builder().name("lease-timeout-explicit").maxPerEndpoint(1).leaseTimeout(Duration.ofMillis(300)).build())
                .customize(b -> b.setDefaultRequestConfig(RequestConfig.custom().setConnectionRequestTimeout(Timeout.ofSeconds(30)).build()))
                .build());

        Throwable failure = secondRequestWhileTheOnlyConnectionIsBusy(server, client);

        assertThat(failure).as("waited the explicit 30 s for the slow request's connection, past the lease timeout").isNull();
    }

    @Test
    void aRetryStrategyGivenThroughCustomizeRetriesA503WithRetryAfter() throws Exception {
        AtomicInteger seen = new AtomicInteger();
        ScriptedHttpServer server = server(r -> seen.incrementAndGet() == 1
                ? status(503, "Service Unavailable", "Retry-After: 0\r\n") : Reply.ok("ok", ""));
        CloseableHttpClient client = leaks.closeAfter(PortkeeperHttpClients.custom()
                .poolConfig(PoolConfig.builder().name("retry-strategy").build())
                .customize(b -> b.setRetryStrategy(new DefaultHttpRequestRetryStrategy(1, TimeValue.ZERO_MILLISECONDS)))
                .build());

        int code = client.execute(new HttpGet(server.url("/busy")), r -> {
            EntityUtils.consume(r.getEntity());
            return r.getCode();
        });

        assertThat(code).as("the retry's answer").isEqualTo(200);
        assertThat(server.requests()).as("the first request and one retry").hasSize(2);
    }
}
