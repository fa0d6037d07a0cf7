package io.github.portkeeper.core;

import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A factory socket's close on one thread while its client reads on another: every byte the
 * watcher read ahead is either read by the client or counted as discarded, never both, never
 * neither. A bounded stress test (the race has no hook to make it deterministic).
 */
class ReadAheadCloseRaceTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final int ROUNDS = 200;
    private static final int SENT = 2048;
    /** Short polls: each round waits twice, and Awaitility's default 100 ms would make the rounds slow. */
    private static final Duration POLL = Duration.ofMillis(2);

    @Test
    void everyReadAheadByteIsEitherReadOrCountedDiscardedWhenCloseRacesARead() throws Exception {
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("read-ahead-race")
                .idleWatchDelay(Duration.ofMillis(1)).listener(new TallyListener()).build();
        ExecutorService reader = Executors.newSingleThreadExecutor();
        Random jitter = new Random(20261201);
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            for (int round = 0; round < ROUNDS; round++) {
                Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
                try (Socket peer = listener.accept()) {
                    InputStream in = s.getInputStream();
                    await().atMost(WAIT).pollDelay(Duration.ZERO).pollInterval(POLL).until(() -> sockets.stats().idle() == 1); // watched
                    peer.getOutputStream().write(new byte[SENT]);
                    // All read ahead by the watcher: nothing queued in the kernel either way. Asked of
                    // the kernel, since any call on the socket would take it back from the watcher.
                    int port = s.getLocalPort();
                    int peerPort = peer.getLocalPort();
                    await().atMost(WAIT).pollDelay(Duration.ZERO).pollInterval(POLL)
                            .until(() -> queued(port, peerPort) == 0 && queued(peerPort, port) == 0);
                    long discardedBefore = sockets.discardedBytes();

                    CountDownLatch reading = new CountDownLatch(1);
                    Future<Long> received = reader.submit(() -> {
                        long got = 0;
                        byte[] chunk = new byte[7];
                        reading.countDown();
                        try {
                            for (int n; (n = in.read(chunk, 0, chunk.length)) > 0; ) {
                                got += n;
                            }
                        } catch (IOException closedUnderTheRead) {
                            // what a read meeting the close gets
                        }
                        return got;
                    });
                    assertThat(reading.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
                    // Spread the close over the read's course: a seeded jitter, no wait for anything.
                    for (int spin = jitter.nextInt(20_000); spin > 0; spin--) {
                        Thread.onSpinWait();
                    }
                    s.close();
                    long got = received.get(WAIT.toSeconds(), TimeUnit.SECONDS);

                    assertThat(got + sockets.discardedBytes() - discardedBefore)
                            .as("round %d: bytes read (%d) plus bytes discarded", round, got).isEqualTo(SENT);
                }
            }
        } finally {
            reader.shutdownNow();
        }
    }

    /**
     * Bytes queued in the kernel for the loopback connection from {@code localPort} to
     * {@code remotePort}: its send queue plus its receive queue ({@code tx_queue:rx_queue} in
     * {@code /proc/net/tcp{,6}}); -1 while the kernel lists no such connection.
     */
    private static long queued(int localPort, int remotePort) throws IOException {
        String local = String.format(":%04X", localPort);
        String remote = String.format(":%04X", remotePort);
        for (String table : new String[] {"/proc/net/tcp", "/proc/net/tcp6"}) {
            Path path = Path.of(table);
            if (!Files.isReadable(path)) {
                continue;
            }
            for (String line : Files.readAllLines(path)) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 4 && f[1].endsWith(local) && f[2].endsWith(remote)) {
                    String[] q = f[4].split(":");
                    return Long.parseLong(q[0], 16) + Long.parseLong(q[1], 16);
                }
            }
        }
        return -1;
    }
}
