package io.github.portkeeper.core;

import io.github.portkeeper.test.FreshPort;
import io.github.portkeeper.test.Kernel;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * 10,000 sockets closed at once with the draining bound at 1,000: at most 1,000 drain, the rest
 * take the fallback at once and are counted as such.
 *
 * <p>The peers never answer: the connections wait in the accept queues of listeners that never
 * accept, so no server descriptor is spent on them (the test fits in a 20,000-descriptor limit)
 * and no FIN ever arrives while they drain.
 */
class DrainingBoundTest {

    private static final int SOCKETS = 10_000;
    private static final int BOUND = 1_000;
    private static final int LISTENERS = 5; // 2,000 queued connections each, under the kernel's 4,096 backlog cap

    @Test
    void atMostTheBoundDrainsAndTheRestTakeTheFallbackCountedAsSuch() throws Exception {
        Kernel.assumeLinux();
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory sockets = CloseOwningSocketFactory.builder().name("bound")
                .retirement(Retirement.awaitPeer(Duration.ofMinutes(1))).maxDraining(BOUND).listener(tally).build();
        List<ServerSocket> listeners = new ArrayList<>();
        List<Socket> clients = new ArrayList<>(SOCKETS);
        try {
            for (int i = 0; i < LISTENERS; i++) {
                listeners.add(FreshPort.listen(InetAddress.getLoopbackAddress(), SOCKETS / LISTENERS + 100));
            }
            for (int i = 0; i < SOCKETS; i++) {
                ServerSocket l = listeners.get(i % LISTENERS);
                clients.add(sockets.createSocket(l.getInetAddress(), l.getLocalPort()));
            }
            for (Socket s : clients) {
                s.close();
            }

            assertThat(sockets.stats().draining()).isEqualTo(BOUND);
            assertThat(sockets.drainOverflows()).isEqualTo(SOCKETS - BOUND);
            assertThat(tally.closed(Ending.RESET)).as("the fallback, at once").isEqualTo(SOCKETS - BOUND);
            assertThat(tally.retiringEvents()).hasSize(BOUND);
        } finally {
            for (ServerSocket l : listeners) {
                l.close(); // resets the queued connections: the drains end
            }
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> sockets.stats().draining() == 0);
        assertThat(tally.closedTotal()).isEqualTo(SOCKETS);
        assertThat(tally.closed(Ending.LOCAL)).isZero();
        for (ServerSocket l : listeners) {
            assertThat(Kernel.clientTimeWait(new InetSocketAddress(l.getInetAddress(), l.getLocalPort()))).isZero();
        }
    }
}
