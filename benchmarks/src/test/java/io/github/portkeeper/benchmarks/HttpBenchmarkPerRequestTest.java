package io.github.portkeeper.benchmarks;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The {@code per-request} column of {@link HttpBenchmark} must cost what a new connection per
 * request costs, not a read per byte of the response head: each read on a socket's stream is a
 * system call.
 */
class HttpBenchmarkPerRequestTest {

    private ExecutorService serverThreads;
    private HttpServer server;
    private int port;

    @BeforeEach
    void startServer() throws IOException {
        serverThreads = KeepAliveSetup.serverThreads();
        server = KeepAliveSetup.server(serverThreads);
        port = server.getAddress().getPort();
    }

    @AfterEach
    void stopServer() {
        server.stop(0);
        serverThreads.shutdownNow();
    }

    @Test
    void perRequestExchangeReadsTheResponseInAFewReadsNotOnePerByte() throws IOException {
        AtomicInteger reads = new AtomicInteger();
        AtomicInteger bytes = new AtomicInteger();
        int status;
        try (Socket socket = new CountingSocket(reads, bytes)) {
            socket.connect(new InetSocketAddress("127.0.0.1", port));
            status = HttpBenchmark.exchange(socket, port);
            // The whole response was consumed: the server has nothing more to send.
            assertThat(socket.getInputStream().available()).isZero();
        }

        assertThat(status).isEqualTo(200);
        assertThat(bytes.get()).as("bytes read").isGreaterThan(KeepAliveSetup.BODY.length + 40);
        // Head and body may arrive in separate segments; a handful of reads, never one per byte.
        assertThat(reads.get()).as("reads on the socket's stream for a %d-byte response", bytes.get()).isLessThanOrEqualTo(4);
    }

    /** A real loopback socket whose input stream counts the reads made on it (each one a read(2)). */
    private static final class CountingSocket extends Socket {

        private final AtomicInteger reads;
        private final AtomicInteger bytes;

        CountingSocket(AtomicInteger reads, AtomicInteger bytes) {
            this.reads = reads;
            this.bytes = bytes;
        }

        @Override
        public InputStream getInputStream() throws IOException {
            return new FilterInputStream(super.getInputStream()) {
                @Override
                public int read() throws IOException {
                    reads.incrementAndGet();
                    int b = super.read();
                    bytes.addAndGet(b < 0 ? 0 : 1);
                    return b;
                }

                @Override
                public int read(byte[] buffer, int offset, int length) throws IOException {
                    reads.incrementAndGet();
                    int n = super.read(buffer, offset, length);
                    bytes.addAndGet(Math.max(n, 0));
                    return n;
                }
            };
        }
    }
}
