package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Lease;
import io.github.portkeeper.rpc.LineCodec;
import io.github.portkeeper.rpc.RpcClient;
import io.github.portkeeper.rpc.testing.FrameServer;
import io.github.portkeeper.rpc.testing.FrameServer.Framing;
import io.github.portkeeper.rpc.testing.Leaks;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.Socket;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What {@link RpcClient.Builder#tcpNoDelay} and {@link RpcClient.Builder#keepAlive} make of a new
 * connection, read from the pooled connection's own socket (here, in the internal package, where
 * {@link RpcConnection} shows it).
 */
class RpcClientSocketOptionsTest {

    private FrameServer server;
    private Endpoint endpoint;
    private RpcClient<String, String> client;

    @BeforeEach
    void start() throws IOException {
        server = FrameServer.start(Framing.LINES);
        endpoint = Endpoint.of(server.host(), server.port());
    }

    @AfterEach
    void noLeaks() throws Exception {
        Leaks.assertNoneAndClose(client == null ? null : client.pool(), client, server);
    }

    @Test
    void newConnectionsHaveTcpNoDelayAndKeepAliveOnByDefault() throws IOException {
        client = RpcClient.builder(LineCodec.utf8(64)).build();
        assertThat(client.call(endpoint, "hello")).isEqualTo("hello");
        try (Lease<?> lease = client.pool().lease(endpoint)) {
            Socket socket = ((RpcConnection) lease.connection()).socket;
            assertThat(lease.isReused()).as("the connection the call used").isTrue();
            assertThat(socket.getTcpNoDelay()).as("TCP_NODELAY by default").isTrue();
            assertThat(socket.getKeepAlive()).as("SO_KEEPALIVE by default").isTrue();
        }
    }

    @Test
    void newConnectionsHaveTcpNoDelayAndKeepAliveOffWhenTurnedOff() throws IOException {
        client = RpcClient.builder(LineCodec.utf8(64)).tcpNoDelay(false).keepAlive(false).build();
        assertThat(client.call(endpoint, "hello")).isEqualTo("hello");
        try (Lease<?> lease = client.pool().lease(endpoint)) {
            Socket socket = ((RpcConnection) lease.connection()).socket;
            assertThat(socket.getTcpNoDelay()).as("TCP_NODELAY turned off").isFalse();
            assertThat(socket.getKeepAlive()).as("SO_KEEPALIVE turned off").isFalse();
        }
    }
}
