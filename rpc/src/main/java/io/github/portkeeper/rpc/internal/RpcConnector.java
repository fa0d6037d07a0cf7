package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.rpc.RpcCodec;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.Optional;

/**
 * Opens {@link RpcConnection}s and sends the codec's goodbye on retirement
 * ({@code REQUEST_PEER_CLOSE}). Thread-safe.
 */
public final class RpcConnector<Req> implements Connector<RpcConnection> {

    private final RpcCodec<Req, ?> codec;
    private final SocketOptions options;

    public RpcConnector(RpcCodec<Req, ?> codec, SocketOptions options) {
        this.codec = codec;
        this.options = options;
    }

    @Override
    public RpcConnection connect(Endpoint endpoint) throws IOException {
        SocketChannel channel = Channels.open(endpoint, options);
        try {
            return new RpcConnection(channel);
        } catch (IOException | RuntimeException | Error e) {
            Channels.closeQuietly(channel);
            throw e;
        }
    }

    @Override
    public SocketChannel channel(RpcConnection connection) {
        return connection.channel;
    }

    /**
     * Writes the codec's goodbye on the idle connection. Only writes: the reply, if any, and the
     * peer's FIN are the pool's to drain. A fresh buffer, since this runs on the pool's thread.
     */
    @Override
    public boolean requestPeerClose(RpcConnection connection) throws IOException {
        Optional<Req> goodbye = codec.goodbye();
        if (goodbye.isEmpty()) {
            return false;
        }
        RequestBuffer buffer = new RequestBuffer();
        codec.encode(goodbye.get(), buffer);
        buffer.writeTo(connection.out);
        return true;
    }
}
