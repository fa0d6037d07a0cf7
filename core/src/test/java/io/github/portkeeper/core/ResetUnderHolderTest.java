package io.github.portkeeper.core;

import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.core.testing.ScriptedServer.End;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * A peer reset first seen by the holder's read is recorded as what it was, {@link Ending#ABORTED}
 * (the peer reset it before we closed), not {@link Ending#PEER}: the read that reported the reset
 * cleared the socket's error, so the close's own look finds only an end of stream, which would
 * pass for the peer's FIN.
 */
class ResetUnderHolderTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @Test
    void aResetTheHoldersReadSawEndsAbortedInTheSocketPool() throws IOException {
        TallyListener tally = new TallyListener();
        try (ScriptedServer server = ScriptedServer.start();
             SocketPool sockets = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally).build()).build()) {
            try (Socket s = sockets.socket(server.host(), server.port())) {
                assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
                server.resetNextRequest();
                assertThatThrownBy(() -> ScriptedServer.exchange(s, 2)).isInstanceOf(IOException.class);
            }
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).singleElement().satisfies(c -> {
                assertThat(c.ending()).isEqualTo(Ending.ABORTED);
                assertThat(c.reason()).isEqualTo(CloseReason.BROKEN);
            });
        }
    }

    @Test
    void aResetTheHoldersWriteSawEndsAbortedInTheSocketPool() throws IOException {
        TallyListener tally = new TallyListener();
        try (ScriptedServer server = ScriptedServer.builder().resetAfterIdle(Duration.ofMillis(200)).start();
             SocketPool sockets = SocketPool.builder().poolConfig(PoolConfig.builder().listener(tally).build()).build()) {
            try (Socket s = sockets.socket(server.host(), server.port())) {
                assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
                await().atMost(WAIT).until(() -> server.endedCount(End.SERVER_RESET) == 1);
                assertThatThrownBy(() -> {
                    s.getOutputStream().write(new byte[] {0, 0, 0, 2});
                    s.getOutputStream().flush();
                }).isInstanceOf(IOException.class);
            }
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).singleElement().satisfies(c -> {
                assertThat(c.ending()).isEqualTo(Ending.ABORTED);
                assertThat(c.reason()).isEqualTo(CloseReason.BROKEN);
            });
        }
    }

    @Test
    void aResetTheClientsWriteSawEndsAbortedInTheCloseOwningFactory() throws IOException {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory factory = CloseOwningSocketFactory.builder().name("reset-seen-by-write")
                .idleWatchDelay(Duration.ofMinutes(10)).listener(tally).build();
        try (ScriptedServer server = ScriptedServer.builder().resetAfterIdle(Duration.ofMillis(200)).start()) {
            Socket s = factory.createSocket(server.host(), server.port());
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            await().atMost(WAIT).until(() -> server.endedCount(End.SERVER_RESET) == 1);
            assertThatThrownBy(() -> {
                s.getOutputStream().write(new byte[] {0, 0, 0, 2});
                s.getOutputStream().flush();
            }).isInstanceOf(IOException.class);
            s.close();
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).singleElement()
                    .satisfies(c -> assertThat(c.ending()).isEqualTo(Ending.ABORTED));
        }
    }

    @Test
    void aResetTheClientsReadSawEndsAbortedInTheCloseOwningFactory() throws IOException {
        TallyListener tally = new TallyListener();
        CloseOwningSocketFactory factory = CloseOwningSocketFactory.builder().name("reset-seen").listener(tally).build();
        try (ScriptedServer server = ScriptedServer.start()) {
            Socket s = factory.createSocket(server.host(), server.port());
            assertThat(ScriptedServer.exchange(s, 1)).isEqualTo(2);
            server.resetNextRequest();
            assertThatThrownBy(() -> ScriptedServer.exchange(s, 2)).isInstanceOf(IOException.class);
            s.close();
            await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
            assertThat(tally.closedEvents()).singleElement()
                    .satisfies(c -> assertThat(c.ending()).isEqualTo(Ending.ABORTED));
        }
    }
}
