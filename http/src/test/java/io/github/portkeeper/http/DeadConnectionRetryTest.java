package io.github.portkeeper.http;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.End;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Request;
import io.github.portkeeper.test.TallyListener;
import io.github.resilience4j.retry.Retry;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.NoHttpResponseException;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.http.io.entity.StringEntity;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Issue 4, acceptance 7: a request whose reused connection dies after the request was written
 * (the server read it and closed without a response) is retried once on a fresh connection when
 * it is idempotent, and never re-sent when it is not.
 */
class DeadConnectionRetryTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private final TallyListener tally = new TallyListener();
    private final AtomicReference<Retry> retry = new AtomicReference<>();
    private ScriptedHttpServer server;
    private CloseableHttpClient client;

    @BeforeEach
    void start() throws Exception {
        // The second request on every connection is read in full, then the connection is closed unanswered.
        server = leaks.closeAfter(ScriptedHttpServer.builder().dropRequest(2).start());
        leaks.track(server.address());
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .poolConfig(PoolConfig.builder().name("dead-connection").listener(tally).build()).build());
        client = leaks.closeAfter(PortkeeperHttpClients.custom().connectionManager(manager).onRetryCreated(retry::set).build());
        // The first request makes the connection pooled; the next one reuses it.
        String warmUp = client.execute(new HttpGet(server.url("/warm-up")), r -> EntityUtils.toString(r.getEntity()));
        assertThat(warmUp).isEqualTo("ok");
    }

    @Test
    void postWhoseReusedConnectionDiesAfterTheRequestWasWrittenIsNotRetried() {
        HttpPost post = new HttpPost(server.url("/orders"));
        post.setEntity(new StringEntity("{\"item\":42}", ContentType.APPLICATION_JSON));

        assertThatThrownBy(() -> client.execute(post, r -> EntityUtils.toString(r.getEntity())))
                .isInstanceOf(NoHttpResponseException.class);

        List<Request> posts = server.requests("POST");
        assertThat(posts).as("the server saw the POST exactly once").hasSize(1);
        assertThat(posts.get(0).numberOnConnection()).as("on the reused connection").isEqualTo(2);
        assertThat(tally.opened()).as("no fresh connection was opened for a retry").isEqualTo(1);
        Retry.Metrics metrics = retry.get().getMetrics();
        assertThat(metrics.getNumberOfSuccessfulCallsWithRetryAttempt()).isZero();
        assertThat(metrics.getNumberOfFailedCallsWithRetryAttempt()).isZero();
        assertNoTimeWait();
    }

    @Test
    void getWhoseReusedConnectionDiesAfterTheRequestWasWrittenIsRetriedOnceOnAFreshConnection() throws Exception {
        String body = client.execute(new HttpGet(server.url("/items/7")), r -> EntityUtils.toString(r.getEntity()));

        assertThat(body).isEqualTo("ok");
        List<Request> gets = server.requests().stream().filter(r -> r.target().equals("/items/7")).toList();
        assertThat(gets).as("the server saw the GET twice").hasSize(2);
        assertThat(gets.get(0).numberOnConnection()).as("first on the dead, reused connection").isEqualTo(2);
        assertThat(gets.get(1).numberOnConnection()).as("then on a fresh one").isEqualTo(1);
        assertThat(gets.get(1).clientPort()).isNotEqualTo(gets.get(0).clientPort());
        assertThat(tally.opened()).isEqualTo(2);
        Retry.Metrics metrics = retry.get().getMetrics();
        assertThat(metrics.getNumberOfSuccessfulCallsWithRetryAttempt()).isEqualTo(1);
        assertThat(metrics.getNumberOfFailedCallsWithRetryAttempt()).isZero();
        assertNoTimeWait();
    }

    @Test
    void theRetryCarriesTheHeadersHttpClientAddedAboveTheRetryAsTheFirstAttemptDid() throws Exception {
        HttpGet get = new HttpGet(server.url("/items/8"));
        get.addHeader("X-Trace", "t-1");

        String body = client.execute(get, r -> EntityUtils.toString(r.getEntity()));

        assertThat(body).isEqualTo("ok");
        List<Request> gets = server.requests().stream().filter(r -> r.target().equals("/items/8")).toList();
        assertThat(gets).as("the first attempt and the retry").hasSize(2);
        assertThat(gets.get(0).header("accept-encoding")).as("added by HttpClient's content compression").isNotNull();
        assertThat(gets.get(1).header("accept-encoding")).as("on the retry").isEqualTo(gets.get(0).header("accept-encoding"));
        assertThat(gets.get(1).header("x-trace")).as("the caller's own header, once").isEqualTo("t-1");
        assertThat(gets.get(1).header("user-agent")).as("added by the protocol step, once").isEqualTo(gets.get(0).header("user-agent"));
        assertNoTimeWait();
    }

    private void assertNoTimeWait() {
        await().atMost(Duration.ofSeconds(10)).until(() -> server.endedCount(End.SERVER_DROPPED_REQUEST) == 1 && tally.closedTotal() >= 1);
        assertThat(tally.closed(Ending.LOCAL)).as("%s", tally).isZero();
        assertThat(Kernel.clientTimeWait(server.address())).as(() -> Kernel.describe(server.address())).isZero();
    }
}
