package io.github.portkeeper.http;

import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.test.FreshPort;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class SmokeTest {

    @Test
    void getsReuseConnectionsAndLeaveNoTimeWait() throws Exception {
        // Without it the JDK server's Nagle and the client's delayed ACK add 40 ms per exchange.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer server = FreshPort.bind(() -> HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 50),
                s -> s.getAddress().getPort(), s -> s.stop(0));
        AtomicInteger hits = new AtomicInteger();
        server.createContext("/", ex -> {
            hits.incrementAndGet();
            byte[] body = "ok".getBytes(StandardCharsets.US_ASCII);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        InetSocketAddress addr = server.getAddress();
        PortkeeperConnectionManager manager = PortkeeperConnectionManager.builder()
                .poolConfig(PoolConfig.builder().name("smoke").maxPerEndpoint(4).build()).build();
        PoolMetrics metrics = new PoolMetrics(manager.pool());
        metrics.bindTo(new SimpleMeterRegistry());
        try (CloseableHttpClient client = PortkeeperHttpClients.custom().connectionManager(manager).build()) {
            for (int i = 0; i < 200; i++) {
                String body = client.execute(new HttpGet("http://127.0.0.1:" + addr.getPort() + "/x"),
                        r -> EntityUtils.toString(r.getEntity()));
                assertThat(body).isEqualTo("ok");
            }
            assertThat(metrics.leasesServed()).isEqualTo(200);
            assertThat(manager.pool().stats().idle()).isEqualTo(1);
        }
        server.stop(0);
        InetSocketAddress remote = new InetSocketAddress("127.0.0.1", addr.getPort());
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(KernelProbe.linux().snapshot().countToRemote(TcpState.CLOSE_WAIT, remote)).isZero());
        assertThat(KernelProbe.linux().snapshot().countToRemote(TcpState.TIME_WAIT, remote)).isZero();
        assertThat(metrics.timeWaitCaused()).isZero();
        assertThat(hits).hasValue(200);
    }
}
