package io.github.portkeeper.benchmarks;

import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.PortkeeperHttpClients;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * What the keep-alive harnesses share: the two Apache clients as they are compared (the same
 * per-route and total limit, HttpClient's defaults otherwise) and the embedded server that
 * {@link HttpBenchmark} and {@link KeepAliveInTurn} run against.
 */
final class KeepAliveSetup {

    /** Connections per route and in total, for every pooled client. */
    static final int MAX_CONNECTIONS = 16;
    static final byte[] BODY = "hello, keep-alive".getBytes(StandardCharsets.US_ASCII);

    private KeepAliveSetup() {
    }

    static CloseableHttpClient portkeeper() {
        return PortkeeperHttpClients.custom()
                .poolConfig(PoolConfig.builder().name("bench").maxPerEndpoint(MAX_CONNECTIONS).maxTotal(MAX_CONNECTIONS).build())
                .build();
    }

    static CloseableHttpClient stock() {
        return HttpClients.custom().setConnectionManager(PoolingHttpClientConnectionManagerBuilder.create()
                .setMaxConnPerRoute(MAX_CONNECTIONS).setMaxConnTotal(MAX_CONNECTIONS).build()).build();
    }

    /** The JDK server's switch for {@code TCP_NODELAY} on its connections (off unless set). */
    static final String NO_DELAY = "sun.net.httpserver.nodelay";

    /**
     * A JDK {@code HttpServer} on loopback answering every request with {@link #BODY}, on
     * {@code workers} threads; started, with {@code TCP_NODELAY} on its connections. The JDK's
     * server sets that only if {@value #NO_DELAY} is {@code true} when it is first used in the
     * JVM (it reads it once): so it is set here if the JVM was started without it, and a JVM
     * started with it set to anything else is refused, naming it.
     *
     * @throws IllegalStateException if {@value #NO_DELAY} is set to other than {@code true}
     */
    static HttpServer server(ExecutorService workers) throws IOException {
        String noDelay = System.getProperty(NO_DELAY);
        if (noDelay == null) {
            System.setProperty(NO_DELAY, "true");
        } else if (!noDelay.equals("true")) {
            throw new IllegalStateException("-D" + NO_DELAY + " must be true (the harnesses compare clients against a server that"
                    + " sets TCP_NODELAY), but was " + noDelay);
        }
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 1024);
        server.createContext("/", ex -> {
            ex.getRequestBody().readAllBytes();
            ex.sendResponseHeaders(200, BODY.length);
            ex.getResponseBody().write(BODY);
            ex.close();
        });
        server.setExecutor(workers);
        server.start();
        return server;
    }

    static ExecutorService serverThreads() {
        return Executors.newFixedThreadPool(8);
    }

    /**
     * {@link #server} in a JVM of its own ({@link BenchServer#spawn(Class)}): prints its port,
     * then serves until killed.
     */
    public static void main(String[] args) throws IOException {
        HttpServer server = server(serverThreads());
        System.out.println(server.getAddress().getPort());
        System.out.flush();
    }
}
