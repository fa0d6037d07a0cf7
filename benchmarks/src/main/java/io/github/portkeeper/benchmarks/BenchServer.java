package io.github.portkeeper.benchmarks;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loopback HTTP/1.1 keep-alive server for the idle and churn harnesses. Query parameters:
 * {@code delay=MS} holds the response (so concurrent requests need concurrent connections);
 * {@code close=N} makes the server close each connection after its N-th response
 * ({@code Connection: close}, the server closing first). Prints its port, then serves until
 * killed. Run in its own process so that its threads are not counted as the client's.
 */
public final class BenchServer {

    private BenchServer() {
    }

    public static void main(String[] args) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 8192);
        Map<String, AtomicInteger> perConnection = new ConcurrentHashMap<>();
        AtomicInteger connections = new AtomicInteger();
        server.createContext("/", exchange -> handle(exchange, perConnection, connections));
        server.setExecutor(Executors.newCachedThreadPool());
        server.start();
        System.out.println(server.getAddress().getPort());
        System.out.flush();
    }

    private static void handle(HttpExchange exchange, Map<String, AtomicInteger> perConnection, AtomicInteger connections)
            throws IOException {
        String query = exchange.getRequestURI().getQuery();
        long delay = param(query, "delay");
        long closeAfter = param(query, "close");
        if (delay > 0) {
            try {
                Thread.sleep(delay);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        String remote = exchange.getRemoteAddress().toString();
        AtomicInteger n = perConnection.computeIfAbsent(remote, r -> {
            connections.incrementAndGet();
            return new AtomicInteger();
        });
        int served = n.incrementAndGet();
        boolean close = closeAfter > 0 && served % closeAfter == 0;
        if (close) {
            exchange.getResponseHeaders().add("Connection", "close");
            perConnection.remove(remote);
        }
        byte[] body = (exchange.getRequestURI().getPath().equals("/connections")
                ? String.valueOf(connections.get()) : "ok").getBytes(StandardCharsets.US_ASCII);
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    private static long param(String query, String name) {
        if (query == null) {
            return 0;
        }
        for (String kv : query.split("&")) {
            if (kv.startsWith(name + "=")) {
                return Long.parseLong(kv.substring(name.length() + 1));
            }
        }
        return 0;
    }

    /**
     * The port a server started by {@link #spawn} announced (its first output line). If the
     * server ends before it prints one, or prints something else, an {@link IOException} says
     * so, with the process's exit code.
     */
    static int port(Process server) throws IOException {
        java.io.BufferedReader out = new java.io.BufferedReader(
                new java.io.InputStreamReader(server.getInputStream(), java.nio.charset.StandardCharsets.US_ASCII));
        String line = out.readLine();
        if (line == null) {
            throw new IOException("the server process (pid " + server.pid() + ") ended before printing its port, "
                    + exitCode(server) + " (its error output is this process's)");
        }
        try {
            return Integer.parseInt(line.trim());
        } catch (NumberFormatException e) {
            throw new IOException("the server process (pid " + server.pid() + ") printed \"" + line + "\" where its port was expected", e);
        }
    }

    private static String exitCode(Process server) throws IOException {
        try {
            return server.waitFor(30, TimeUnit.SECONDS) ? "exit code " + server.exitValue() : "and did not exit within 30 s";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for the server process's exit code");
        }
    }

    /** Starts the server in a child JVM (same class path); its first output line is the port (see {@link #port}). */
    static Process spawn() throws IOException {
        return spawn(BenchServer.class);
    }

    /**
     * Starts {@code main}'s {@code main} in a child JVM with this JVM's class path and the server
     * settings the harnesses share; it must print its port as its first output line.
     */
    static Process spawn(Class<?> main) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process server = new ProcessBuilder(java, "-Xss256k",
                "-Dsun.net.httpserver.idleInterval=600", "-Dsun.net.httpserver.maxIdleConnections=100000", "-Dsun.net.httpserver.nodelay=true",
                "-cp", System.getProperty("java.class.path"), main.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        // The server serves until killed: if this JVM ends without destroying it (a harness
        // that failed half-way), it must not live on.
        Runtime.getRuntime().addShutdownHook(new Thread(server::destroy, "bench-server-reaper-" + server.pid()));
        return server;
    }
}
