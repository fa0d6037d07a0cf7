package io.github.portkeeper.okhttp.netns;

import io.github.portkeeper.core.CloseOwningSocketFactory;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolListener;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.test.Kernel;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * The child process of {@link OkHttpPortExhaustionTest}, run inside a network namespace with a
 * narrow {@code ip_local_port_range} and {@code tcp_tw_reuse=0}. Not a test itself.
 *
 * <p>Starts a loopback HTTP/1.1 server that keeps connections alive and closes one after 1 s
 * idle, then fires {@code requests} GETs from 32 threads through OkHttp with its default pool
 * (5 idle connections: every connection beyond five is closed right after use), stock
 * ({@code mode=stock}) or with the close-owning socket factory ({@code mode=factory}). Prints one
 * line starting with {@code RESULT }.
 *
 * <p>Arguments: {@code mode serverPort requests maxDraining}.
 */
public final class EvictionWorkload {

    static final String RESULT_PREFIX = "RESULT ";
    private static final int THREADS = 32;
    private static final int MAX_FAILURES = 100;

    private EvictionWorkload() {
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        int port = Integer.parseInt(args[1]);
        int requests = Integer.parseInt(args[2]);
        int maxDraining = Integer.parseInt(args[3]);
        try (ServerSocket listener = new ServerSocket(port, 512, InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> serve(listener), "server");
            acceptor.setDaemon(true);
            acceptor.start();

            OkHttpClient.Builder builder = new OkHttpClient.Builder().protocols(List.of(Protocol.HTTP_1_1))
                    .retryOnConnectionFailure(false); // show each failure as it happens
            LongAdder local = new LongAdder();
            LongAdder peer = new LongAdder();
            LongAdder reset = new LongAdder();
            CloseOwningSocketFactory sockets = null;
            if (mode.equals("factory")) {
                sockets = CloseOwningSocketFactory.builder().name("netns").maxDraining(maxDraining).listener(new PoolListener() {
                    @Override
                    public void connectionClosed(Endpoint endpoint, Ending ending, CloseReason reason) {
                        (ending == Ending.LOCAL ? local : ending == Ending.PEER ? peer : reset).increment();
                    }
                }).build();
                builder.socketFactory(sockets);
            }
            OkHttpClient client = builder.build();
            String url = "http://127.0.0.1:" + port + "/";
            AtomicInteger succeeded = new AtomicInteger();
            AtomicInteger failed = new AtomicInteger();
            AtomicInteger addressNotAvailable = new AtomicInteger();
            AtomicReference<String> firstError = new AtomicReference<>("none");
            ExecutorService threads = Executors.newFixedThreadPool(THREADS);
            Future<?>[] calls = new Future<?>[requests];
            for (int i = 0; i < requests; i++) {
                calls[i] = threads.submit(() -> {
                    if (failed.get() >= MAX_FAILURES) {
                        return; // exhausted: the point is made, stop hammering
                    }
                    try (Response r = client.newCall(new Request.Builder().url(url).build()).execute()) {
                        r.body().string();
                        succeeded.incrementAndGet();
                        // Think time (the workload's shape): most connections sit idle at once,
                        // so OkHttp closes all but five of them after use.
                        Thread.sleep(ThreadLocalRandom.current().nextInt(5, 25));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } catch (IOException e) {
                        failed.incrementAndGet();
                        if (mentionsAddressNotAvailable(e)) {
                            addressNotAvailable.incrementAndGet();
                        }
                        firstError.compareAndSet("none", e.toString().replace(' ', '_'));
                    }
                });
            }
            for (Future<?> f : calls) {
                f.get(120, TimeUnit.SECONDS);
            }
            threads.shutdown();
            String figures = sockets == null ? "" : " peer=" + peer.sum() + " reset=" + reset.sum() + " local=" + local.sum()
                    + " drainOverflows=" + sockets.drainOverflows();
            System.out.println(RESULT_PREFIX + "mode=" + mode + " requests=" + requests + " succeeded=" + succeeded.get()
                    + " failed=" + failed.get() + " addressNotAvailable=" + addressNotAvailable.get()
                    + " clientTimeWait=" + Kernel.clientTimeWait(new InetSocketAddress(listener.getInetAddress(), port))
                    + " portRange=" + read("/proc/sys/net/ipv4/ip_local_port_range")
                    + " twReuse=" + read("/proc/sys/net/ipv4/tcp_tw_reuse") + figures + " firstError=" + firstError.get());
        }
        System.exit(0);
    }

    private static boolean mentionsAddressNotAvailable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (String.valueOf(t.getMessage()).contains("Cannot assign requested address")) {
                return true;
            }
            for (Throwable s : t.getSuppressed()) {
                if (mentionsAddressNotAvailable(s)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** A keep-alive HTTP/1.1 server: one thread per connection, closes after 1 s idle (FIN first). */
    private static void serve(ServerSocket listener) {
        while (!listener.isClosed()) {
            try {
                Socket s = listener.accept();
                Thread t = new Thread(() -> handle(s), "conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void handle(Socket s) {
        byte[] response = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\nitem".getBytes(StandardCharsets.US_ASCII);
        try (s) {
            s.setSoTimeout(1_000);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int matched = 0;
            for (;;) {
                int b;
                try {
                    b = in.read();
                } catch (SocketTimeoutException idle) {
                    return; // idle 1 s: the server closes first
                }
                if (b < 0) {
                    return;
                }
                head.write(b);
                matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
                if (matched == 4) {
                    out.write(response);
                    out.flush();
                    head.reset();
                    matched = 0;
                }
            }
        } catch (IOException ignored) {
            // reset by the client
        }
    }

    private static String read(String file) throws IOException {
        return Files.readAllLines(Path.of(file)).get(0).trim().replaceAll("\\s+", "-");
    }
}
