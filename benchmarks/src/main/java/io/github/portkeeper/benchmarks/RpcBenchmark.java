package io.github.portkeeper.benchmarks;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.rpc.LengthPrefixedCodec;
import io.github.portkeeper.rpc.RpcClient;
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
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Request/response calls over loopback against an embedded echo server speaking length-prefixed
 * frames (4-byte big-endian length, 64-byte payloads), two ways in one run:
 * {@code rpc-client} ({@link RpcClient} with {@link LengthPrefixedCodec}, up to 16 pooled
 * connections) and {@code socket-per-call} (a new connection per call that the client closes
 * first after reading the response: the TIME_WAIT incident's pattern).
 *
 * <p>The server runs a thread per connection from a cached pool (threads are reused, so the
 * per-call mode does not pay for thread creation). Each trial prints the connections the server
 * accepted and the client TIME_WAIT sockets the kernel holds toward it at the end.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar RpcBenchmark -t 4}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class RpcBenchmark {

    private static final int PAYLOAD = 64;

    @State(Scope.Benchmark)
    public static class Client {

        @Param({"rpc-client", "socket-per-call"})
        public String client;

        EchoServer server;
        RpcClient<byte[], byte[]> rpc;
        Endpoint endpoint;
        int port;

        @Setup(Level.Trial)
        public void start() throws IOException {
            server = new EchoServer();
            port = server.port();
            endpoint = Endpoint.of("127.0.0.1", port);
            if ("rpc-client".equals(client)) {
                rpc = RpcClient.builder(LengthPrefixedCodec.withMaxPayload(1024))
                        .poolConfig(PoolConfig.builder().name("bench").maxPerEndpoint(16).maxTotal(16).build())
                        .build();
            } else if (!"socket-per-call".equals(client)) {
                throw new IllegalArgumentException("unknown client " + client);
            }
        }

        @TearDown(Level.Trial)
        public void stop() {
            if (rpc != null) {
                rpc.close();
            }
            KernelProbe probe = KernelProbe.linux();
            String timeWait = probe.isAvailable()
                    ? String.valueOf(probe.snapshot().countToRemote(TcpState.TIME_WAIT, new InetSocketAddress("127.0.0.1", port)))
                    : "n/a";
            System.out.println("\n" + client + ": server accepted " + server.accepted() + " connections;"
                    + " client TIME_WAIT toward the server at the end: " + timeWait);
            server.close();
        }
    }

    @State(Scope.Thread)
    public static class Payload {
        final byte[] bytes = new byte[PAYLOAD];
    }

    @Benchmark
    public byte[] call(Client c, Payload p) throws IOException {
        if (c.rpc != null) {
            return c.rpc.call(c.endpoint, p.bytes, Duration.ofSeconds(5));
        }
        return socketPerCall(c.port, p.bytes);
    }

    /** One connection per call, closed by the client after reading the response: the naive pattern. */
    private static byte[] socketPerCall(int port, byte[] payload) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setTcpNoDelay(true);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(frame(payload));
            out.flush();
            return readFrame(s.getInputStream());
        }
    }

    static byte[] frame(byte[] payload) {
        int n = payload.length;
        byte[] f = new byte[n + 4];
        f[0] = (byte) (n >>> 24);
        f[1] = (byte) (n >>> 16);
        f[2] = (byte) (n >>> 8);
        f[3] = (byte) n;
        System.arraycopy(payload, 0, f, 4, n);
        return f;
    }

    /** The payload of the next frame, or null at a clean end of stream. */
    static byte[] readFrame(InputStream in) throws IOException {
        byte[] header = in.readNBytes(4);
        if (header.length == 0) {
            return null;
        }
        if (header.length < 4) {
            throw new EOFException("end of stream in a length prefix");
        }
        int n = ((header[0] & 0xFF) << 24) | ((header[1] & 0xFF) << 16) | ((header[2] & 0xFF) << 8) | (header[3] & 0xFF);
        if (n < 0 || n > 1 << 20) {
            throw new IOException("frame length " + n + " out of range");
        }
        byte[] payload = in.readNBytes(n);
        if (payload.length < n) {
            throw new EOFException("end of stream in a frame");
        }
        return payload;
    }

    /** Echoes length-prefixed frames on 127.0.0.1, a pooled thread per connection. */
    static final class EchoServer implements AutoCloseable {
        private final ServerSocket listener;
        private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "echo-server");
            t.setDaemon(true);
            return t;
        });
        private final java.util.concurrent.atomic.AtomicLong accepted = new java.util.concurrent.atomic.AtomicLong();

        EchoServer() throws IOException {
            listener = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress());
            threads.execute(this::acceptLoop);
        }

        int port() {
            return listener.getLocalPort();
        }

        long accepted() {
            return accepted.get();
        }

        private void acceptLoop() {
            while (!listener.isClosed()) {
                try {
                    Socket s = listener.accept();
                    accepted.incrementAndGet();
                    threads.execute(() -> serve(s));
                } catch (IOException e) {
                    return;
                }
            }
        }

        private static void serve(Socket s) {
            try (s) {
                s.setTcpNoDelay(true);
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                for (byte[] request = readFrame(in); request != null; request = readFrame(in)) {
                    out.write(frame(request));
                    out.flush();
                }
            } catch (IOException ignored) {
                // the client reset or went away
            }
        }

        @Override
        public void close() {
            try {
                listener.close();
            } catch (IOException ignored) {
                // closing anyway
            }
            threads.shutdownNow();
        }
    }
}
