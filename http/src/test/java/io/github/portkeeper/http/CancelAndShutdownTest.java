package io.github.portkeeper.http;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.test.TallyListener;
import io.github.portkeeper.http.testing.LeakCheck;
import io.github.portkeeper.http.testing.ScriptedHttpServer;
import io.github.portkeeper.http.testing.ScriptedHttpServer.Reply;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.message.BasicClassicHttpRequest;
import org.apache.hc.core5.http.impl.io.HttpRequestExecutor;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.http.HttpHeaders;
import org.apache.hc.core5.http.io.SocketConfig;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Cancelling a request that waits for a connection aborts the wait at once, and closing the
 * manager with {@link CloseMode#IMMEDIATE} aborts requests in flight, as with HttpClient's own
 * manager. So does cancelling a request whose response is still being read, even when the server
 * announced it would close the connection after that response.
 */
class CancelAndShutdownTest {

    @RegisterExtension
    final LeakCheck leaks = new LeakCheck();

    private static final Duration SLOW = Duration.ofSeconds(5);

    private ScriptedHttpServer slowServer() throws Exception {
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> r.target().equals("/slow") ? Reply.ok("late", "").after(SLOW) : Reply.ok("fast", ""))
                .start());
        leaks.track(server.address());
        return server;
    }

    private static CompletableFuture<String> async(CloseableHttpClient client, HttpGet get) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return client.execute(get, r -> EntityUtils.toString(r.getEntity()));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void cancellingARequestWaitingForAConnectionAbortsTheWaitPromptly() throws Exception {
        ScriptedHttpServer server = slowServer();
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("cancel").maxPerEndpoint(1).build()).build());
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                .setDefaultRequestConfig(RequestConfig.custom().setConnectionRequestTimeout(Timeout.ofSeconds(10)).build()).build());

        CompletableFuture<String> holder = async(client, new HttpGet(server.url("/slow")));
        await().atMost(Duration.ofSeconds(5)).until(() -> server.requests().size() == 1);
        HttpGet queued = new HttpGet(server.url("/fast"));
        CompletableFuture<String> waiting = async(client, queued);
        await().atMost(Duration.ofSeconds(5)).until(() -> manager.pool().stats().pending() == 1);

        long start = System.nanoTime();
        queued.cancel();
        assertThatThrownBy(() -> waiting.get(2, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        assertThat(manager.pool().stats().pending()).isZero();
        assertThat(holder.get(10, TimeUnit.SECONDS)).isEqualTo("late");
    }

    @Test
    void closeImmediateAbortsRequestsInFlight() throws Exception {
        ScriptedHttpServer server = slowServer();
        PortkeeperConnectionManager manager = PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("close-immediate").build()).build();
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).disableAutomaticRetries().build());

        CompletableFuture<String> inFlight = async(client, new HttpGet(server.url("/slow")));
        await().atMost(Duration.ofSeconds(5)).until(() -> server.requests().size() == 1);

        long start = System.nanoTime();
        manager.close(CloseMode.IMMEDIATE);
        assertThatThrownBy(() -> inFlight.get(SLOW.toMillis() / 2, TimeUnit.MILLISECONDS)).isInstanceOf(ExecutionException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(SLOW.dividedBy(2));
        await().atMost(Duration.ofSeconds(5)).until(() -> manager.pool().stats().active() == 0);
    }

    /** A request whose response head says the server will close after it, and whose body never completes. */
    private final class AnnouncedCloseStalledBody {
        final PortkeeperConnectionManager manager;
        final HttpGet get;
        final CompletableFuture<byte[]> reading;

        AnnouncedCloseStalledBody(String name) throws Exception {
            byte[] head = ("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 100000\r\n\r\npartial")
                    .getBytes(StandardCharsets.US_ASCII);
            ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                    .responder(r -> new Reply(head, Duration.ZERO, false)).start());
            leaks.track(server.address());
            manager = PortkeeperConnectionManager.builder()
                    .setPoolConfig(PoolConfig.builder().name(name).build())
                    .setDefaultSocketConfig(SocketConfig.custom().setSoTimeout(Timeout.ofSeconds(60)).build()).build();
            CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager)
                    .disableAutomaticRetries().build());
            get = new HttpGet(server.url("/"));
            CountDownLatch headRead = new CountDownLatch(1);
            reading = CompletableFuture.supplyAsync(() -> {
                try {
                    return client.execute(get, r -> {
                        assertThat(r.getFirstHeader(HttpHeaders.CONNECTION).getValue()).isEqualTo("close");
                        headRead.countDown();
                        return EntityUtils.toByteArray(r.getEntity());
                    });
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertThat(headRead.await(10, TimeUnit.SECONDS)).isTrue();
        }

        /** The body read fails well before the 60 s socket timeout, and the connection is let go. */
        void failsPromptly() {
            long start = System.nanoTime();
            assertThatThrownBy(() -> reading.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
            await().atMost(Duration.ofSeconds(10)).until(() -> manager.pool().stats().active() == 0);
        }
    }

    @Test
    void cancellingARequestWhoseResponseAnnouncedCloseWakesItsBlockedBodyRead() throws Exception {
        AnnouncedCloseStalledBody exchange = new AnnouncedCloseStalledBody("cancel-body");
        leaks.track(exchange.manager);
        exchange.get.cancel();
        exchange.failsPromptly();
    }

    @Test
    void aResponseThatAnnouncedCloseReadToItsEndOnAnotherThreadStillLetsTheServerCloseFirst() throws Exception {
        // Handing a response to another thread to read is ordinary. Once that thread has read the
        // body to its end, HttpClient discards the connection (IMMEDIATE, from that thread): nobody
        // is reading any more, so it is retired to await the server's FIN, not reset.
        byte[] reply = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello".getBytes(StandardCharsets.US_ASCII);
        ScriptedHttpServer server = leaks.closeAfter(ScriptedHttpServer.builder()
                .responder(r -> new Reply(reply, Duration.ZERO, false)).closeIdleAfter(Duration.ofMillis(300)).start());
        leaks.track(server.address());
        TallyListener tally = new TallyListener();
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("body-elsewhere").listener(tally).build()).build());
        CloseableHttpClient client = leaks.closeAfter(HttpClients.custom().setConnectionManager(manager).build());
        ExecutorService reader = Executors.newSingleThreadExecutor();
        try {
            org.apache.hc.core5.http.ClassicHttpResponse response = client.executeOpen(null, new HttpGet(server.url("/")), null);
            String body = reader.submit(() -> {
                try (response) {
                    return EntityUtils.toString(response.getEntity());
                }
            }).get(10, TimeUnit.SECONDS);
            assertThat(body).isEqualTo("hello");
        } finally {
            reader.shutdownNow();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closed(Ending.RESET)).as("reset").isZero();
        assertThat(tally.closed(Ending.PEER)).as("closed by the server first").isEqualTo(1);
    }

    @Test
    void aReconnectWhoseNewLeaseTimesOutFailsWithTheTimeoutAndTheEndpointStillClosesQuietly() throws Exception {
        // A connection HttpClient closed (a 401 with Connection: close, say) is given back when it
        // connects again, and a new one is leased; if another request takes the freed slot, that
        // lease can time out. The endpoint then holds a lease already closed: closing it, or the
        // manager, must neither throw nor stop, and the caller must learn of the timeout.
        ScriptedHttpServer server = slowServer();
        PortkeeperConnectionManager manager = leaks.track(PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("reconnect-timeout").maxPerEndpoint(1).maxTotal(1)
                        .leaseTimeout(Duration.ofMillis(300)).build()).build());
        HttpRoute route = new HttpRoute(new HttpHost("http", "127.0.0.1", server.port()));
        ConnectionEndpoint first = manager.lease("1", route, Timeout.ofSeconds(5), null).get(Timeout.ofSeconds(5));
        manager.connect(first, null, HttpClientContext.create());
        try (ClassicHttpResponseHolder ignored = new ClassicHttpResponseHolder(first.execute("1",
                new BasicClassicHttpRequest("GET", new HttpHost("http", "127.0.0.1", server.port()), "/"),
                new HttpRequestExecutor(), HttpClientContext.create()))) {
            first.close(CloseMode.GRACEFUL); // HttpClient disconnects it before connecting again
        }
        CompletableFuture<ConnectionEndpoint> second = CompletableFuture.supplyAsync(() -> {
            try {
                return manager.lease("2", route, Timeout.ofSeconds(10), null).get(Timeout.ofSeconds(10));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(5)).until(() -> manager.pool().stats().pending() == 1);

        assertThatThrownBy(() -> manager.connect(first, null, HttpClientContext.create()))
                .as("the slot went to the waiting lease").isInstanceOf(java.io.IOException.class);
        first.close(CloseMode.IMMEDIATE); // what HttpClient does next: must not throw
        manager.close(CloseMode.IMMEDIATE); // reaches the same endpoint: must not throw either
        manager.release(first, null, TimeValue.ZERO_MILLISECONDS);
        manager.release(second.get(10, TimeUnit.SECONDS), null, TimeValue.ZERO_MILLISECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> manager.pool().stats().active() == 0);
    }

    /** Closes a response's entity stream, so the connection is left consistent. */
    private record ClassicHttpResponseHolder(org.apache.hc.core5.http.ClassicHttpResponse response) implements AutoCloseable {
        @Override
        public void close() throws java.io.IOException {
            EntityUtils.consume(response.getEntity());
        }
    }

    @Test
    void closeImmediateWakesABodyReadEvenWhenTheResponseAnnouncedClose() throws Exception {
        AnnouncedCloseStalledBody exchange = new AnnouncedCloseStalledBody("close-immediate-body");
        exchange.manager.close(CloseMode.IMMEDIATE);
        exchange.failsPromptly();
    }
}
