package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.test.FreshPort;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.ClosedByInterruptException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * An interrupt closes a blocking channel behind the pool's back (the JDK's
 * {@link ClosedByInterruptException}); the pool must still count what the kernel does. A
 * request in flight gets its reply after the close, which the kernel answers with RST: no
 * TIME_WAIT, whatever the ending says. The pool holds its sockets with SO_LINGER 0 while they are
 * open, so every close it does not make itself is an RST, counted {@link Ending#RESET}.
 */
class InterruptCountTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private final TallyListener tally = new TallyListener();
    private SocketPool sockets;
    private LatchServer server;

    @AfterEach
    void tearDown() throws IOException {
        Thread.interrupted();
        if (sockets != null) {
            sockets.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void interruptedReadWhoseReplyComesAfterTheCloseCausesNoTimeWaitAndCountsNone() throws Exception {
        Kernel.assumeLinux();
        server = new LatchServer();
        sockets = SocketPool.builder().readTimeout(WAIT).poolConfig(PoolConfig.builder().listener(tally).build()).build();

        try (Socket s = sockets.socket(server.host(), server.port())) {
            OutputStream out = s.getOutputStream();
            out.write(new byte[] {0, 0, 0, 1});
            out.flush();
            assertThat(server.requestRead.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            InputStream in = s.getInputStream();
            Thread.currentThread().interrupt();
            assertThatThrownBy(in::read).isInstanceOf(ClosedByInterruptException.class);
            assertThat(Thread.interrupted()).as("interrupt status kept by the JDK").isTrue();
        }
        server.reply.countDown(); // the reply reaches a socket we closed: the kernel answers RST
        assertThat(server.done.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("server handler done").isTrue();
        await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
        awaitNoClientFinWait(server.address());

        assertThat(tally.timeWaitCaused()).as("timewait.caused vs kernel: %s, %s", tally, Kernel.describe(server.address()))
                .isEqualTo(Kernel.clientTimeWait(server.address()));
        assertThat(tally.timeWaitCaused()).isZero();
        assertThat(tally.closed(Ending.LOCAL)).as("an interrupted exchange is never a clean FIN").isZero();
    }

    @Test
    void interruptedIdleReadOfAServerThatNeverRepliesIsCountedAsTheKernelEndsIt() throws Exception {
        Kernel.assumeLinux();
        server = new LatchServer();
        sockets = SocketPool.builder().readTimeout(WAIT).poolConfig(PoolConfig.builder().listener(tally).build()).build();

        try (Socket s = sockets.socket(server.host(), server.port())) {
            Thread.currentThread().interrupt();
            assertThatThrownBy(s.getInputStream()::read).isInstanceOf(ClosedByInterruptException.class);
            Thread.interrupted();
        }
        // The server reads our end of stream (or reset) and closes; nothing is sent after our close.
        assertThat(server.done.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("server handler done").isTrue();
        await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
        awaitNoClientFinWait(server.address());

        assertThat(tally.timeWaitCaused()).as("timewait.caused vs kernel: %s, %s", tally, Kernel.describe(server.address()))
                .isEqualTo(Kernel.clientTimeWait(server.address()));
    }

    @Test
    void interruptsRacingConnectsLeaveExactlyTheTimeWaitCounted() throws Exception {
        Kernel.assumeLinux();
        try (ScriptedServer scripted = ScriptedServer.start()) {
            InetSocketAddress address = scripted.address();
            sockets = SocketPool.builder().readTimeout(WAIT).poolConfig(PoolConfig.builder().listener(tally)
                    .retirement(Retirement.reset()).build()).build();
            Endpoint endpoint = Endpoint.of(scripted.host(), scripted.port());
            RacingInterrupts race = new RacingInterrupts(sockets.pool(), endpoint, CONNECT_ATTEMPTS);
            race.run();
            awaitNoClientFinWait(address);
            int kernel = Kernel.clientTimeWait(address);
            System.out.printf("[InterruptCountTest] %d connects raced by interrupts: %d leased, %d failed; "
                    + "timewait.caused=%d kernel TIME_WAIT=%d%n", CONNECT_ATTEMPTS, race.leased, race.failed,
                    tally.timeWaitCaused(), kernel);
            assertThat(race.failed).as("connects the interrupts cut short").isPositive();
            assertThat(tally.timeWaitCaused()).as("timewait.caused vs kernel: %s", Kernel.describe(address))
                    .isEqualTo(kernel);
        }
    }

    private static final int CONNECT_ATTEMPTS = 400;

    /**
     * A worker leases new connections one at a time (each retired at once with RST, so only an
     * interrupted connect can leave a TIME_WAIT); another thread interrupts it a random few
     * microseconds after each lease starts, so interrupts land before, during and after the
     * TCP handshake.
     */
    private static final class RacingInterrupts {
        private final Pool<java.nio.channels.SocketChannel> pool;
        private final Endpoint endpoint;
        private final int attempts;
        private final java.util.concurrent.Semaphore started = new java.util.concurrent.Semaphore(0);
        private final java.util.concurrent.Semaphore fired = new java.util.concurrent.Semaphore(0);
        int leased;
        int failed;

        RacingInterrupts(Pool<java.nio.channels.SocketChannel> pool, Endpoint endpoint, int attempts) {
            this.pool = pool;
            this.endpoint = endpoint;
            this.attempts = attempts;
        }

        void run() throws Exception {
            Thread worker = Thread.currentThread();
            Thread interrupter = new Thread(() -> {
                java.util.Random random = new java.util.Random(17);
                for (int i = 0; i < attempts; i++) {
                    try {
                        if (!started.tryAcquire(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                            return;
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                    long until = System.nanoTime() + random.nextInt(150_000);
                    while (System.nanoTime() < until) {
                        Thread.onSpinWait();
                    }
                    worker.interrupt();
                    fired.release();
                }
            }, "interrupter");
            interrupter.setDaemon(true);
            interrupter.start();
            for (int i = 0; i < attempts; i++) {
                started.release();
                try (Lease<java.nio.channels.SocketChannel> lease = pool.lease(endpoint)) {
                    leased++;
                    lease.retire();
                } catch (IOException e) {
                    failed++;
                }
                awaitFired();
                Thread.interrupted();
            }
            interrupter.join(WAIT.toMillis());
        }

        /** Waits until this attempt's interrupt has fired, which may well interrupt the wait itself. */
        private void awaitFired() {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                try {
                    if (fired.tryAcquire(10, TimeUnit.MILLISECONDS)) {
                        return;
                    }
                } catch (InterruptedException thisAttemptsInterrupt) {
                    // expected: keep waiting for the release that follows it
                }
            }
            throw new AssertionError("the interrupter did not fire within " + WAIT);
        }
    }

    private static void awaitNoClientFinWait(InetSocketAddress server) {
        await().atMost(WAIT).until(() -> Kernel.clientClosedFirst(server) == Kernel.clientTimeWait(server));
    }

    /**
     * Accepts one connection; reads a 4-byte request if one comes, then waits for {@link #reply}
     * before answering; then reads until the client's end of stream (or reset) and closes.
     */
    private static final class LatchServer implements AutoCloseable {
        final CountDownLatch requestRead = new CountDownLatch(1);
        final CountDownLatch reply = new CountDownLatch(1);
        final CountDownLatch done = new CountDownLatch(1);
        private final ServerSocket listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 8);
        private final Thread thread = new Thread(this::serve, "latch-server");

        LatchServer() throws IOException {
            thread.setDaemon(true);
            thread.start();
        }

        private void serve() {
            try (Socket c = listener.accept()) {
                c.setSoTimeout((int) WAIT.toMillis());
                InputStream in = c.getInputStream();
                byte[] request = in.readNBytes(4);
                if (request.length == 4) {
                    requestRead.countDown();
                    if (reply.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                        try {
                            c.getOutputStream().write(request);
                        } catch (IOException reset) {
                            // the client's RST came first: nothing else to do
                        }
                    }
                }
                try {
                    while (in.read() >= 0) {
                        // discard until end of stream
                    }
                } catch (IOException reset) {
                    // the client reset: done
                }
            } catch (IOException | InterruptedException e) {
                // the test's assertions say what went wrong
            } finally {
                done.countDown();
            }
        }

        String host() {
            return listener.getInetAddress().getHostAddress();
        }

        int port() {
            return listener.getLocalPort();
        }

        InetSocketAddress address() {
            return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
        }

        @Override
        public void close() throws IOException {
            listener.close();
        }
    }
}
