package io.github.portkeeper.http.internal;

import com.sun.net.httpserver.HttpServer;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.http.PortkeeperConnectionManager;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The socket HttpClient reads and writes through: its channel never leaves non-blocking mode once
 * connected (so neither a read with a timeout nor the pool's readiness check at lease switches
 * it), and it still keeps a socket's promises: timeouts, end of stream, close waking a reader.
 */
class ChannelSocketTest {

    @Test
    void aReusedConnectionsChannelStaysNonBlocking() throws Exception {
        System.setProperty("sun.net.httpserver.nodelay", "true");
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 50);
        server.createContext("/", ex -> {
            byte[] body = "ok".getBytes(StandardCharsets.US_ASCII);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        int port = server.getAddress().getPort();
        PortkeeperConnectionManager manager = PortkeeperConnectionManager.builder()
                .setPoolConfig(PoolConfig.builder().name("nonblocking").maxPerEndpoint(1).build()).build();
        try (CloseableHttpClient client = HttpClients.custom().setConnectionManager(manager).build()) {
            for (int i = 0; i < 3; i++) {
                String body = client.execute(new HttpGet("http://127.0.0.1:" + port + "/"),
                        r -> EntityUtils.toString(r.getEntity()));
                assertThat(body).isEqualTo("ok");
            }
            HttpRoute route = new HttpRoute(new HttpHost("http", "127.0.0.1", port));
            ConnectionEndpoint endpoint = manager.lease("test", route, Timeout.ofSeconds(5), null).get(Timeout.ofSeconds(5));
            try {
                PooledEndpoint pooled = (PooledEndpoint) endpoint;
                assertThat(pooled.connectionLease().isReused()).isTrue();
                Socket socket = pooled.connection().conn.getSocket();
                assertThat(socket).isInstanceOf(ChannelSocket.class);
                assertThat(socket.getChannel().isBlocking()).isFalse();
            } finally {
                manager.release(endpoint, null, TimeValue.NEG_ONE_MILLISECOND);
            }
        } finally {
            server.stop(0);
        }
    }

    @Test
    void aSocketFromTheFactoryClosesWithResetUntilConnectedThenAsHttpClientAsked() throws Exception {
        try (ChannelSocket socket = (ChannelSocket) ChannelSocketFactory.INSTANCE.create(null)) {
            assertThat(socket.getSoLinger()).as("SO_LINGER as the factory leaves it").isZero();
            assertThat(socket.closesWithReset()).isTrue();
            socket.setSoLinger(true, 5); // SocketConfig.setSoLinger(5s), as HttpClient's operator applies it
            assertThat(socket.getSoLinger()).as("SO_LINGER while connecting").isZero();
            assertThat(socket.closesWithReset()).isTrue();
            socket.applyRequestedLinger(); // connected, TLS included
            assertThat(socket.getSoLinger()).as("SO_LINGER once connected").isEqualTo(5);
            assertThat(socket.closesWithReset()).isFalse();
            socket.setSoLinger(true, 0); // HttpCore's close(IMMEDIATE)
            assertThat(socket.closesWithReset()).isTrue();
            socket.setOption(java.net.StandardSocketOptions.SO_LINGER, -1);
            assertThat(socket.closesWithReset()).isFalse();
        }
    }

    @Test
    void aReadTimesOutAndTheSocketStaysUsable() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
             Socket socket = ChannelSocketFactory.INSTANCE.create(null)) {
            socket.connect(listener.getLocalSocketAddress(), 5_000);
            try (Socket peer = listener.accept()) {
                socket.setSoTimeout(300);
                InputStream in = socket.getInputStream();
                long start = System.nanoTime();
                assertThatThrownBy(in::read).isInstanceOf(SocketTimeoutException.class);
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(290));
                assertThat(socket.getChannel().isBlocking()).isFalse();

                peer.getOutputStream().write('x');
                assertThat(in.read()).isEqualTo('x');
                peer.close();
                assertThat(in.read()).isEqualTo(-1);
            }
        }
    }

    @Test
    void closingTheSocketWakesAReaderWithNoTimeout() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
             Socket socket = ChannelSocketFactory.INSTANCE.create(null)) {
            socket.connect(listener.getLocalSocketAddress(), 5_000);
            try (Socket peer = listener.accept()) {
                socket.setSoTimeout(0);
                InputStream in = socket.getInputStream();
                java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
                Thread reader = new Thread(() -> {
                    try {
                        in.read();
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                });
                reader.start();
                // The reader is blocked in its wait (nothing was sent); closing must end it, not a timeout.
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                        .until(() -> failure.get() == null
                                && java.util.Arrays.stream(reader.getStackTrace()).anyMatch(f -> f.getMethodName().equals("select")));
                socket.close();
                reader.join(10_000);
                assertThat(reader.isAlive()).as("reader still blocked after the close").isFalse();
                assertThat(failure.get()).isInstanceOf(SocketException.class);
                assertThat(socket.getChannel().isOpen()).isFalse();
            }
        }
    }

    @Test
    void anInterruptedWaitFailsWithoutClosingTheSocket() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
             Socket socket = ChannelSocketFactory.INSTANCE.create(null)) {
            socket.connect(listener.getLocalSocketAddress(), 5_000);
            try (Socket peer = listener.accept()) {
                InputStream in = socket.getInputStream();
                java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
                Thread reader = new Thread(() -> {
                    try {
                        in.read();
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                });
                reader.start();
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                        .until(() -> reader.getState() == Thread.State.RUNNABLE && failure.get() == null
                                && java.util.Arrays.stream(reader.getStackTrace()).anyMatch(f -> f.getMethodName().equals("select")));
                reader.interrupt();
                reader.join(10_000);
                assertThat(failure.get()).isInstanceOf(java.io.InterruptedIOException.class);
                assertThat(socket.getChannel().isOpen()).as("the socket stays open: HttpClient decides what to do with it").isTrue();
            }
        }
    }

    @Test
    void theFirstReadAfterARequestWaitsFirstOnlyWhileRepliesKeepComingLate() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
             ChannelSocket socket = (ChannelSocket) ChannelSocketFactory.INSTANCE.create(null)) {
            socket.connect(listener.getLocalSocketAddress(), 5_000);
            try (Socket peer = listener.accept()) {
                socket.setSoTimeout(10_000);
                // Replies already there when the client reads (a busy host): it reads at once.
                for (int i = 0; i < 3; i++) {
                    exchange(socket, peer, true);
                }
                assertThat(socket.lateReplies()).isZero();
                // Replies a round trip later, time after time (a host with cores to spare): waits come first.
                for (int i = 0; i < ChannelSocket.LATE_REPLIES_BEFORE_WAITING; i++) {
                    exchange(socket, peer, false);
                }
                assertThat(socket.lateReplies()).isEqualTo(ChannelSocket.LATE_REPLIES_BEFORE_WAITING);
                exchange(socket, peer, true);
                assertThat(socket.lateReplies()).as("the wait came first, so a ready reply taught nothing")
                        .isEqualTo(ChannelSocket.LATE_REPLIES_BEFORE_WAITING);
                // Ready replies are not seen by a wait that comes first: only the periodic probe
                // reads at once again, and then the connection is back to reading first.
                for (int i = 0; i < ChannelSocket.REPROBE_EVERY && socket.lateReplies() > 0; i++) {
                    exchange(socket, peer, true);
                }
                assertThat(socket.lateReplies()).as("relearned within %d exchanges", ChannelSocket.REPROBE_EVERY).isZero();
            }
        }
    }

    /**
     * On JDK 25 a virtual thread waiting in a read parks and leaves its carrier: the JDK's selector
     * parks a virtual thread in {@code select} rather than blocking in {@code epoll_wait}. A
     * mounted virtual thread names its carrier after an {@code @} in its {@code toString()}.
     * Built for Java 17, so the virtual thread is made reflectively; skipped before JDK 25 (on 21
     * to 24 the selector blocks its carrier, with compensation: see docs/http.md).
     */
    @Test
    void onJdk25AVirtualThreadWaitingInAReadParksAndLeavesItsCarrier() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Runtime.version().feature() >= 25, "JDK 25 or later");
        try (ServerSocket listener = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
             Socket socket = ChannelSocketFactory.INSTANCE.create(null)) {
            socket.connect(listener.getLocalSocketAddress(), 5_000);
            try (Socket peer = listener.accept()) {
                socket.setSoTimeout(0);
                InputStream in = socket.getInputStream();
                java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
                Runnable read = () -> {
                    try {
                        in.read();
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                };
                Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
                Thread reader = (Thread) Class.forName("java.lang.Thread$Builder").getMethod("start", Runnable.class)
                        .invoke(builder, read);
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                        .until(() -> failure.get() == null
                                && java.util.Arrays.stream(reader.getStackTrace()).anyMatch(f -> f.getMethodName().equals("select")));

                assertThat(reader.getState()).isIn(Thread.State.WAITING, Thread.State.TIMED_WAITING);
                assertThat(reader.toString()).as("a parked virtual thread has no carrier").doesNotContain("@");

                socket.close();
                reader.join(10_000);
                assertThat(failure.get()).isInstanceOf(SocketException.class);
            }
        }
    }

    /** One request and its 3-byte reply; {@code ready}: the reply is in the socket before the client reads. */
    private static void exchange(ChannelSocket socket, Socket peer, boolean ready) throws Exception {
        socket.getOutputStream().write("req".getBytes(StandardCharsets.US_ASCII));
        assertThat(peer.getInputStream().readNBytes(3)).hasSize(3);
        byte[] reply = new byte[3];
        if (ready) {
            peer.getOutputStream().write("rep".getBytes(StandardCharsets.US_ASCII));
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                    .until(() -> socket.getChannel().socket().getInputStream().available() == 3);
            assertThat(socket.getInputStream().readNBytes(reply, 0, 3)).isEqualTo(3);
            return;
        }
        java.util.concurrent.atomic.AtomicInteger got = new java.util.concurrent.atomic.AtomicInteger(-1);
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        Thread reader = new Thread(() -> {
            try {
                got.set(socket.getInputStream().readNBytes(reply, 0, 3));
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        reader.start();
        // The reply goes out only once the reader waits: whatever it tried first found nothing.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> failure.get() != null
                || java.util.Arrays.stream(reader.getStackTrace()).anyMatch(f -> f.getMethodName().equals("select")));
        peer.getOutputStream().write("rep".getBytes(StandardCharsets.US_ASCII));
        reader.join(10_000);
        assertThat(failure.get()).isNull();
        assertThat(got.get()).isEqualTo(3);
    }
}
