package io.github.portkeeper.okhttp;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.github.portkeeper.core.CloseOwningSocketFactory;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.okhttp.testing.Workload;
import io.github.portkeeper.test.FreshPort;
import io.github.portkeeper.test.Kernel;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.ok;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Real OkHttp, 32 threads, {@code maxIdleConnections} at its default 5, against WireMock with a
 * 1 s idle timeout, requests in bursts with idle gaps: stock OkHttp against OkHttp with the
 * close-owning socket factory, over HTTP and HTTPS, the kernel sampled throughout.
 *
 * <p>The request count is scaled for the build ({@code -Dportkeeper.okhttp.requests=5000} runs
 * the full workload).
 */
// Its two cases, each mostly idle gaps toward servers of their own, run side by side.
@Execution(ExecutionMode.CONCURRENT)
class OkHttpCloseOwnershipTest {

    private static final int THREADS = 32;
    private static final int REQUESTS = Integer.getInteger("portkeeper.okhttp.requests", 640);
    private static final int BURSTS = Math.max(2, REQUESTS / 320);
    /** Idle gaps well past the server's 1 s idle timeout, so stock's CLOSE_WAIT lasts about 3 s. */
    private static final long GAP_MILLIS = 4_000;
    /**
     * The watcher's bound (watch delay 100 ms + 20 ms tick) with room for a loaded 2-core machine
     * and the 50 ms sampling, yet below what stock OkHttp leaves in each gap (checked too).
     */
    private static final long CLOSE_WAIT_BOUND_MILLIS = 2_000;

    private WireMockServer server;

    /**
     * Starts WireMock on ports no socket of this host has, not even a TIME_WAIT toward them: after
     * the stock run, hundreds of them point at its port, which port 0 could hand out again.
     * WireMock binds itself, so it is given the ports, and started again should one be taken first.
     */
    private void startServer() throws IOException {
        RuntimeException failed = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int[] ports = freshPorts(2);
            server = new WireMockServer(options().port(ports[0]).httpsPort(ports[1]).bindAddress("127.0.0.1")
                    .jettyIdleTimeout(1_000L));
            try {
                server.start();
                server.stubFor(get("/item").willReturn(ok("item")));
                return;
            } catch (RuntimeException e) {
                server.stop();
                failed = e;
            }
        }
        throw failed;
    }

    /** Distinct loopback ports from {@link FreshPort}, each held until all are chosen. */
    private static int[] freshPorts(int n) throws IOException {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        List<ServerSocket> probes = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                probes.add(FreshPort.listen(loopback, 1));
            }
            return probes.stream().mapToInt(ServerSocket::getLocalPort).toArray();
        } finally {
            for (ServerSocket probe : probes) {
                probe.close();
            }
        }
    }

    @AfterEach
    void stopServer() {
        if (server != null) {
            server.stop();
        }
    }

    @Test
    void stockOkHttpLeavesTimeWaitAndCloseWaitTheFactoryLeavesNone() throws Exception {
        compare(false);
    }

    @Test
    void overTlsTheFactoryLeavesNoTimeWaitAndNoStaleCloseWaitEither() throws Exception {
        compare(true);
    }

    private void compare(boolean tls) throws Exception {
        Kernel.assumeLinux();
        Workload workload = new Workload(THREADS, REQUESTS, BURSTS, GAP_MILLIS);

        startServer();
        int stockPort = tls ? server.httpsPort() : server.port();
        Workload.Result stock = workload.run(client(new OkHttpClient.Builder(), tls), url(tls, stockPort), loopback(stockPort));
        int stockTimeWaitAtEnd = Kernel.clientTimeWait(loopback(stockPort));
        server.stop();

        startServer(); // fresh ports: the stock run's TIME_WAIT must not count against the factory
        int port = tls ? server.httpsPort() : server.port();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("okhttp-" + (tls ? "tls" : "plain")).build();
        MeterRegistry registry = new SimpleMeterRegistry();
        PoolMetrics.of(sockets).bindTo(registry);
        OkHttpClient client = client(new OkHttpClient.Builder().socketFactory(sockets), tls);
        Workload.Result owned = workload.run(client, url(tls, port), loopback(port));
        client.connectionPool().evictAll();
        await().atMost(Duration.ofSeconds(20)).until(() -> sockets.stats().draining() == 0);
        int kernelTimeWait = Kernel.clientTimeWait(loopback(port));

        String figures = (tls ? "TLS" : "plain") + ": stock " + stock + " (TIME_WAIT at end " + stockTimeWaitAtEnd + "); factory " + owned
                + " opened=" + sum(registry, "portkeeper.connections.opened")
                + " closed peer/reset/local=" + closed(registry, "peer") + "/" + closed(registry, "reset") + "/" + closed(registry, "local")
                + " timewait.caused=" + sum(registry, "portkeeper.timewait.caused") + " kernel=" + kernelTimeWait;
        System.out.println(figures);

        assertThat(stock.peakTimeWait()).as("stock OkHttp evicts beyond 5 idle with a FIN: " + figures).isPositive();
        assertThat(stock.peakCloseWait()).as("stock OkHttp leaves server-closed idle connections in CLOSE_WAIT: " + figures).isPositive();
        assertThat(stock.oldestCloseWaitMillis()).as("stock's CLOSE_WAIT outlives the bound the factory is held to: " + figures)
                .isGreaterThan(CLOSE_WAIT_BOUND_MILLIS);
        assertThat(owned.failed()).as(figures).isZero();
        assertThat(owned.peakTimeWait()).as(figures).isZero();
        assertThat(kernelTimeWait).as(figures).isZero();
        assertThat(sum(registry, "portkeeper.timewait.caused")).as("timewait.caused = kernel: " + figures).isEqualTo(kernelTimeWait);
        assertThat(owned.oldestCloseWaitMillis()).as("no CLOSE_WAIT older than the watcher's bound: " + figures)
                .isLessThanOrEqualTo(CLOSE_WAIT_BOUND_MILLIS);
        assertThat(closed(registry, "peer") + closed(registry, "reset"))
                .as("every connection opened ended, none with a local FIN: " + figures).isEqualTo(sum(registry, "portkeeper.connections.opened"));
        assertThat(Kernel.clientPorts(loopback(port), TcpState.CLOSE_WAIT)).isEmpty();
    }

    private static long sum(MeterRegistry registry, String name) {
        return (long) registry.find(name).counters().stream().mapToDouble(Counter::count).sum();
    }

    private static long closed(MeterRegistry registry, String by) {
        return (long) registry.find("portkeeper.connections.closed").tag("closed.by", by).counters().stream()
                .mapToDouble(Counter::count).sum();
    }

    /** WireMock's address: it binds 127.0.0.1, and the kernel is asked about sockets toward it. */
    private static InetSocketAddress loopback(int port) {
        return new InetSocketAddress("127.0.0.1", port);
    }

    private static String url(boolean tls, int port) {
        return (tls ? "https" : "http") + "://127.0.0.1:" + port + "/item";
    }

    /** HTTP/1.1 only (the eviction pattern under test); over TLS trusting WireMock's self-signed certificate, for this test only. */
    static OkHttpClient client(OkHttpClient.Builder builder, boolean tls) throws Exception {
        builder.protocols(List.of(Protocol.HTTP_1_1));
        if (tls) {
            X509TrustManager trustAll = new X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            };
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {trustAll}, null);
            builder.sslSocketFactory(context.getSocketFactory(), trustAll).hostnameVerifier((host, session) -> true);
        }
        return builder.build();
    }
}
