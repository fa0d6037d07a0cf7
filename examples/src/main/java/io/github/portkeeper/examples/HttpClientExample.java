package io.github.portkeeper.examples;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.http.PortkeeperHttpClients;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.io.entity.EntityUtils;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.ArrayList;
import java.util.List;

/**
 * A Portkeeper-pooled Apache HttpClient 5: a {@code CloseableHttpClient} like any other, whose
 * connections are reused and let the server close first. Starts the JDK's HTTP server on
 * loopback, sends 1,000 GETs from 4 threads, and prints the pool's metrics and the kernel's count
 * of TIME_WAIT sockets on this host.
 *
 * <p>Run: {@code java -cp examples/target/portkeeper-examples.jar io.github.portkeeper.examples.HttpClientExample}
 */
public final class HttpClientExample {

    private HttpClientExample() {
    }

    /**
     * Runs the example and prints its figures to standard output.
     *
     * @param args ignored
     * @throws Exception if the server cannot start or a request fails (the example stops there)
     */
    public static void main(String[] args) throws Exception {
        run(exchange -> {
            byte[] body = "hello\n".getBytes(StandardCharsets.US_ASCII);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
    }

    /** Runs the example against a server that answers with {@code handler}; stops the server however it ends. */
    static void run(HttpHandler handler) throws Exception {
        // Without it the JDK server's Nagle and the client's delayed ACK add 40 ms per exchange.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 50);
        server.createContext("/", handler);
        server.start();
        int port = server.getAddress().getPort();
        String url = "http://127.0.0.1:" + port + "/hello";
        PoolMetrics metrics;
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            PortkeeperConnectionManager manager = PortkeeperConnectionManager.builder()
                    .poolConfig(PoolConfig.builder().name("hello").maxPerEndpoint(4).build())
                    .build();
            metrics = new PoolMetrics(manager.pool());
            metrics.bindTo(new SimpleMeterRegistry()); // your registry: Prometheus, OTLP, ...

            try (CloseableHttpClient client = PortkeeperHttpClients.custom().connectionManager(manager).build()) {
                List<Future<String>> answers = new ArrayList<>();
                for (int i = 0; i < 1_000; i++) {
                    answers.add(threads.submit(() ->
                            client.execute(new HttpGet(url), response -> EntityUtils.toString(response.getEntity()))));
                }
                for (Future<String> answer : answers) {
                    if (!answer.get().equals("hello\n")) {
                        throw new IllegalStateException("unexpected answer: " + answer.get());
                    }
                }
                System.out.println("1,000 GETs on " + manager.pool().stats().idle() + " pooled connection(s)");
            } // closing the client closes its connection manager
        } finally {
            threads.shutdownNow();
            // The client is closed: its idle connections left by the pool's retirement fallback
            // (a reset by default), since the JDK server keeps idle connections for 30 s. The
            // server stops however the run ended: its dispatcher thread would keep the JVM running.
            server.stop(0);
        }

        InetSocketAddress remote = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port);
        System.out.println("leases served:            " + metrics.leasesServed());
        System.out.println("TIME_WAIT caused (pool): " + metrics.timeWaitCaused());
        System.out.println("timewait.avoided:         " + metrics.timeWaitAvoided());
        KernelProbe kernel = KernelProbe.linux();
        if (kernel.isAvailable()) {
            System.out.println("TIME_WAIT on this host (kernel): " + kernel.snapshot().countToRemote(TcpState.TIME_WAIT, remote));
        }
    }
}
