package io.github.portkeeper.rpc;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.testing.ScriptedServer;
import io.github.portkeeper.core.testing.ScriptedServer.End;
import io.github.portkeeper.test.TallyListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * A peer reset that an {@link RpcClient} call meets, on the request's write or the response's
 * read, is recorded as what it was, {@link Ending#ABORTED}, not {@link Ending#PEER}: the call
 * that saw the reset consumed the socket's error, so the close's own look finds only an end of
 * stream, which would pass for the peer's FIN.
 */
class ResetUnderCallTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final Duration WAIT = Duration.ofSeconds(10);
    /** Far more than the loopback send and receive buffers hold, so the write is still going when the reset comes. */
    private static final int LARGE_REQUEST = 16 * 1024 * 1024;

    private final TallyListener tally = new TallyListener();
    private ScriptedServer server;
    private RpcClient<byte[], Integer> client;
    private Endpoint endpoint;

    @BeforeEach
    void start() throws IOException {
        server = ScriptedServer.start();
        endpoint = Endpoint.of(server.host(), server.port());
        client = RpcClient.builder(new IntCodec())
                .poolConfig(PoolConfig.builder().maxPerEndpoint(1).listener(tally).build())
                .noRetry()
                .build();
    }

    @AfterEach
    void stop() {
        try {
            assertThat(client.pool().stats().active()).as("leased connections").isZero();
        } finally {
            client.close();
            server.close();
        }
    }

    @Test
    void aResetTheCallsReadMetIsRecordedAsAnAbortNotAsThePeersClose() throws IOException {
        assertThat(client.call(endpoint, intRequest(1), TIMEOUT)).isEqualTo(2);
        server.resetNextRequest();

        assertThatThrownBy(() -> client.call(endpoint, intRequest(2), TIMEOUT))
                .isInstanceOf(RpcConnectionLostException.class)
                .hasMessageContaining("before any response byte");

        await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closedEvents()).singleElement().satisfies(c -> {
            assertThat(c.ending()).isEqualTo(Ending.ABORTED);
            assertThat(c.reason()).isEqualTo(CloseReason.BROKEN);
        });
    }

    @Test
    void aResetTheCallsWriteMetIsRecordedAsAnAbortNotAsThePeersClose() throws IOException {
        assertThat(client.call(endpoint, intRequest(1), TIMEOUT)).isEqualTo(2);
        server.resetNextRequest(); // after the request's first 4 bytes, while the rest is still being written
        byte[] large = ByteBuffer.allocate(LARGE_REQUEST).putInt(2).array();

        assertThatThrownBy(() -> client.call(endpoint, large, TIMEOUT))
                .isInstanceOf(RpcConnectionLostException.class)
                .hasMessageContaining("failed while sending the request");

        await().atMost(WAIT).until(() -> server.endedCount(End.SERVER_RESET) == 1);
        await().atMost(WAIT).until(() -> tally.closedTotal() == 1);
        assertThat(tally.closedEvents()).singleElement().satisfies(c -> {
            assertThat(c.ending()).isEqualTo(Ending.ABORTED);
            assertThat(c.reason()).isEqualTo(CloseReason.BROKEN);
        });
    }

    private static byte[] intRequest(int value) {
        return ByteBuffer.allocate(4).putInt(value).array();
    }

    /** Requests as given (the scripted server reads their first 4 bytes as an int); responses a 4-byte int. */
    private static final class IntCodec implements RpcCodec<byte[], Integer> {
        @Override
        public void encode(byte[] request, OutputStream out) throws IOException {
            out.write(request);
        }

        @Override
        public Integer decode(InputStream in) throws IOException {
            return new DataInputStream(in).readInt();
        }

        @Override
        public int maxFrameSize() {
            return 4;
        }
    }
}
