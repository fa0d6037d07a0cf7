package io.github.portkeeper.core;

import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
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
    private static final int ROUNDS = 150;
    private static final int SENT = 2048;

    @Test
    void everyReadAheadByteIsEitherReadOrCountedDiscardedWhenCloseRacesARead() throws Exception {
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("read-ahead-race")
                .idleWatchDelay(Duration.ofMillis(1)).listener(new TallyListener()).build();
        ExecutorService reader = Executors.newSingleThreadExecutor();
        try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            for (int round = 0; round < ROUNDS; round++) {
                Socket s = sockets.createSocket(listener.getInetAddress(), listener.getLocalPort());
                try (Socket peer = listener.accept()) {
                    InputStream in = s.getInputStream();
                    await().atMost(WAIT).until(() -> sockets.stats().idle() == 1); // watched
                    peer.getOutputStream().write(new byte[SENT]);
                    await().atMost(WAIT).until(() -> in.available() == SENT); // all read ahead by the watcher
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
}
