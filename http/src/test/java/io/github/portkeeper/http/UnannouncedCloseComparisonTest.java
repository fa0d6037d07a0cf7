package io.github.portkeeper.http;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.classic.methods.HttpUriRequestBase;
import org.apache.hc.client5.http.impl.DefaultHttpRequestRetryStrategy;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.http.io.entity.StringEntity;
import org.apache.hc.core5.util.TimeValue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Against a server that closes every connection right after its response without saying so
 * (no {@code Connection: close}), side by side with stock HttpClient pooling: Portkeeper fails
 * no more requests than stock, and no idempotent one.
 */
class UnannouncedCloseComparisonTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private static final int ROUNDS = 40;

    /** Failures of GETs and POSTs, sent alternately back to back. */
    private record Failures(int get, int post) {
    }

    private static Failures run(CloseableHttpClient client, ScriptedHttpServer server) {
        int get = 0;
        int post = 0;
        for (int i = 0; i < ROUNDS; i++) {
            HttpUriRequestBase request;
            if (i % 2 == 0) {
                request = new HttpGet(server.url("/get"));
            } else {
                HttpPost p = new HttpPost(server.url("/post"));
                p.setEntity(new StringEntity("x", ContentType.TEXT_PLAIN));
                request = p;
            }
            try {
                client.execute(request, r -> EntityUtils.toString(r.getEntity()));
            } catch (Exception e) {
                if (i % 2 == 0) {
                    get++;
                } else {
                    post++;
                }
            }
        }
        return new Failures(get, post);
    }

    @Test
    void failsNoMoreRequestsThanStockHttpClientAndNoIdempotentOne() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder().closeAfterEachResponse().start());
        leaks.track(server.address());
        // Stock HttpClient as it comes, but retrying at once (its default waits 1 s before a retry).
        CloseableHttpClient stock = leaks.closeAfter(HttpClients.custom()
                .setConnectionManager(PoolingHttpClientConnectionManagerBuilder.create().build())
                .setRetryStrategy(new DefaultHttpRequestRetryStrategy(1, TimeValue.ZERO_MILLISECONDS)).build());
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("unannounced").build()).build());
        CloseableHttpClient portkeeper = leaks.closeAfter(PortkeeperHttpClients.custom().connectionManager(manager).build());

        Failures stockFailures = run(stock, server);
        Failures ours = run(portkeeper, server);

        System.out.printf("[UnannouncedCloseComparisonTest] %d GETs and %d POSTs each: stock failed %d GET / %d POST,"
                + " Portkeeper %d GET / %d POST%n", ROUNDS / 2, ROUNDS / 2, stockFailures.get(), stockFailures.post(), ours.get(), ours.post());
        assertThat(ours.get()).as("idempotent requests failed").isZero();
        assertThat(ours.get() + ours.post()).as("failed requests, against stock's %s", stockFailures)
                .isLessThanOrEqualTo(stockFailures.get() + stockFailures.post());
    }
}
