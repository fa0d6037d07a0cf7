package io.github.portkeeper.observability;

import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.core.micrometer.PoolMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A client process in miniature for the end-to-end test: a loopback server that answers a
 * 4-byte int with the int plus one, a Portkeeper {@link SocketPool} calling it about 50 times a
 * second from one thread, and the pool's meters at {@code http://127.0.0.1:port/metrics}
 * (Prometheus text format) from a registry of its own. Close stops it all.
 */
final class Workload implements AutoCloseable {

    private final ServerSocket backend;
    private final Thread acceptor;
    private final SocketPool sockets;
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final HttpServer metrics;
    private final Thread caller;
    private final AtomicInteger answered = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean stopped;

    /**
     * Starts a workload whose pool is built with {@code config}: a Portkeeper pool as it comes,
     * or one set up as a naive client (one request per connection, the client closes first).
     */
    Workload(PoolConfig config) throws IOException {
        backend = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = new Thread(this::accept, "workload-backend-" + config.name());
        acceptor.setDaemon(true);
        acceptor.start();
        sockets = SocketPool.builder().readTimeout(Duration.ofSeconds(5)).poolConfig(config).build();
        new PoolMetrics(sockets.pool()).bindTo(registry);
        metrics = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        metrics.createContext("/metrics", exchange -> {
            byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        metrics.start();
        caller = new Thread(this::call, "workload-caller-" + config.name());
        caller.setDaemon(true);
        caller.start();
    }

    /** Where Prometheus scrapes it, {@code 127.0.0.1:port}. */
    String metricsTarget() {
        return "127.0.0.1:" + metrics.getAddress().getPort();
    }

    int answered() {
        return answered.get();
    }

    Throwable failure() {
        return failure.get();
    }

    private void call() {
        int i = 0;
        while (!stopped) {
            try (Socket s = sockets.socket("127.0.0.1", backend.getLocalPort())) {
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                out.writeInt(i);
                out.flush();
                if (new DataInputStream(s.getInputStream()).readInt() == i + 1) {
                    answered.incrementAndGet();
                }
                i++;
                synchronized (this) { // pace the calls; close() wakes it at once
                    if (!stopped) {
                        wait(20);
                    }
                }
            } catch (IOException e) {
                failure.compareAndSet(null, e);
                return;
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void accept() {
        while (!backend.isClosed()) {
            try {
                Socket s = backend.accept();
                Thread t = new Thread(() -> serve(s), "workload-connection");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    /** Answers until the client closes (EOF) or the backend stops. */
    private static void serve(Socket s) {
        try (s) {
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            while (true) {
                out.writeInt(in.readInt() + 1);
                out.flush();
            }
        } catch (IOException e) {
            // EOF or reset: the connection is over
        }
    }

    @Override
    public void close() throws Exception {
        synchronized (this) {
            stopped = true;
            notifyAll();
        }
        caller.join(5_000);
        metrics.stop(0);
        sockets.close();
        backend.close();
        acceptor.join(5_000);
        registry.close();
    }
}
