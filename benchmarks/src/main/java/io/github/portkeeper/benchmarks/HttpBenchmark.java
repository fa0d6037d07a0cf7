package io.github.portkeeper.benchmarks;

import com.sun.net.httpserver.HttpServer;
import okhttp3.ConnectionPool;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keep-alive GETs over loopback against an embedded HTTP/1.1 server, five ways:
 * {@code portkeeper} (PortkeeperHttpClients), {@code httpclient-default} (stock HttpClient 5
 * pooling, the same per-route limit), {@code okhttp} (OkHttp 5, its connection pool holding as
 * many), {@code jdk} (the JDK's {@code java.net.http.HttpClient}, HTTP/1.1) and
 * {@code per-request} (a new connection per request that the client closes first: the
 * TIME_WAIT incident's pattern).
 *
 * <p>The server runs in the benchmark's JVM unless {@code -p server=process} puts it in a JVM
 * of its own; either way each fork gets a fresh one.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar HttpBenchmark -t 16 -prof gc}. The
 * warm-up is long on purpose: on a small shared machine the JIT is still compiling HttpClient's
 * exchange after 30 s, and a shorter warm-up measures the compiler, not the clients.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 8, time = 5)
@Measurement(iterations = 6, time = 3)
@Fork(value = 1, jvmArgsAppend = "-Dsun.net.httpserver.nodelay=true")
public class HttpBenchmark {

    @State(Scope.Benchmark)
    public static class Client {

        static final List<String> CLIENTS = List.of("portkeeper", "httpclient-default", "okhttp", "jdk", "per-request");
        static final List<String> SERVERS = List.of("embedded", "process");

        @Param({"portkeeper", "httpclient-default", "okhttp", "jdk", "per-request"})
        public String client;

        /**
         * {@code embedded}: the server runs in the benchmark's JVM (sharing its cores, heap and
         * JIT with the client); {@code process}: the same server in a JVM of its own, as a real
         * server would be.
         */
        @Param({"embedded"})
        public String server;

        HttpServer embedded;
        Process serverProcess;
        ExecutorService serverThreads;
        CloseableHttpClient http;
        OkHttpClient okhttp;
        Request okRequest;
        java.net.http.HttpClient jdk;
        java.net.http.HttpRequest jdkRequest;
        String uri;
        int port;

        /**
         * Checks both parameters before anything is started, then starts the server and the
         * client; if either fails, what was started is stopped before the failure propagates
         * (JMH runs no trial teardown after a setup that threw, and a server process left
         * behind would outlive the run).
         */
        @Setup(Level.Trial)
        public void start() throws IOException {
            if (!SERVERS.contains(server)) {
                throw new IllegalArgumentException("server must be one of " + String.join(", ", SERVERS) + ", but was " + server);
            }
            if (!CLIENTS.contains(client)) {
                throw new IllegalArgumentException("client must be one of " + String.join(", ", CLIENTS) + ", but was " + client);
            }
            try {
                startServer();
                startClient();
            } catch (IOException | RuntimeException | Error e) {
                stopAfterFailedStart(e);
                throw e;
            }
        }

        private void startServer() throws IOException {
            if (server.equals("embedded")) {
                serverThreads = KeepAliveSetup.serverThreads();
                embedded = KeepAliveSetup.server(serverThreads);
                port = embedded.getAddress().getPort();
            } else {
                serverProcess = BenchServer.spawn(KeepAliveSetup.class);
                port = BenchServer.port(serverProcess);
            }
            uri = "http://127.0.0.1:" + port + "/hello";
        }

        private void startClient() {
            switch (client) {
                case "portkeeper":
                    http = KeepAliveSetup.portkeeper();
                    break;
                case "httpclient-default":
                    http = KeepAliveSetup.stock();
                    break;
                case "okhttp":
                    okhttp = new OkHttpClient.Builder().connectionPool(new ConnectionPool(KeepAliveSetup.MAX_CONNECTIONS, 5, TimeUnit.MINUTES)).build();
                    okRequest = new Request.Builder().url(uri).build();
                    break;
                case "jdk":
                    jdk = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build();
                    jdkRequest = java.net.http.HttpRequest.newBuilder(java.net.URI.create(uri)).build();
                    break;
                default: // per-request: nothing to set up
                    break;
            }
        }

        private void stopAfterFailedStart(Throwable failure) {
            try {
                stop();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure.addSuppressed(e);
            } catch (IOException | RuntimeException e) {
                failure.addSuppressed(e);
            }
        }

        @TearDown(Level.Trial)
        public void stop() throws IOException, InterruptedException {
            if (http != null) {
                http.close();
            }
            if (okhttp != null) {
                okhttp.dispatcher().executorService().shutdown();
                okhttp.connectionPool().evictAll();
            }
            if (embedded != null) {
                embedded.stop(0);
                serverThreads.shutdownNow();
            }
            if (serverProcess != null) {
                serverProcess.destroy();
                serverProcess.waitFor();
            }
        }
    }

    @Benchmark
    public int get(Client c) throws IOException, InterruptedException {
        if (c.okhttp != null) {
            try (Response response = c.okhttp.newCall(c.okRequest).execute()) {
                response.body().bytes();
                return response.code();
            }
        }
        if (c.jdk != null) {
            return c.jdk.send(c.jdkRequest, java.net.http.HttpResponse.BodyHandlers.ofByteArray()).statusCode();
        }
        if (c.http == null) {
            return perRequest(c.port);
        }
        return c.http.execute(new HttpGet(c.uri), response -> {
            EntityUtils.consume(response.getEntity());
            return response.getCode();
        });
    }

    /** One connection per request, closed by the client after reading the response: the naive pattern. */
    private static int perRequest(int port) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            return exchange(s, port);
        }
    }

    /** One GET on the connected {@code s} to the server on {@code port}, the whole response read: its status. */
    static int exchange(Socket s, int port) throws IOException {
        s.setTcpNoDelay(true);
        OutputStream out = s.getOutputStream();
        out.write(("GET /hello HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return readResponse(s.getInputStream());
    }

    /**
     * Reads one response: the head in as few reads as the segments allow (never a read per byte:
     * each read on a socket's stream is a system call), then the rest of the body.
     */
    private static int readResponse(InputStream in) throws IOException {
        byte[] buffer = new byte[512];
        int filled = 0;
        int headEnd = -1;
        while (headEnd < 0) {
            if (filled == buffer.length) {
                buffer = Arrays.copyOf(buffer, buffer.length * 2);
            }
            int n = in.read(buffer, filled, buffer.length - filled);
            if (n < 0) {
                throw new EOFException("connection closed after " + filled + " bytes of the response head");
            }
            int from = Math.max(0, filled - 3);
            filled += n;
            headEnd = endOfHead(buffer, from, filled);
        }
        String head = new String(buffer, 0, headEnd, StandardCharsets.US_ASCII);
        int length = 0;
        for (String line : head.split("\r\n")) {
            if (line.regionMatches(true, 0, "Content-Length:", 0, 15)) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        int bodyRead = filled - headEnd;
        if (bodyRead < length) {
            in.readNBytes(length - bodyRead);
        }
        return Integer.parseInt(head.substring(9, 12));
    }

    /** The index just past the first CRLFCRLF in {@code b[from, to)}, or -1. */
    private static int endOfHead(byte[] b, int from, int to) {
        for (int i = from; i + 3 < to; i++) {
            if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
                return i + 4;
            }
        }
        return -1;
    }
}
