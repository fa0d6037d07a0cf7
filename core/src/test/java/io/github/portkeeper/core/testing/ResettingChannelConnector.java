package io.github.portkeeper.core.testing;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.time.Duration;

/**
 * A user's {@link Connector} over real blocking {@link SocketChannel}s, written against the public
 * API only, that sets SO_LINGER 0 before it connects, as the pool does to its own sockets: closing
 * one sends an RST and leaves no TIME_WAIT. Tests extend it to make one of the connector's hooks
 * fail.
 *
 * <p>Thread-safety: safe for the pool to call from any thread.
 */
public class ResettingChannelConnector implements Connector<SocketChannel> {

    private final Duration connectTimeout;

    /** A connector whose connects give up after {@code connectTimeout}. */
    public ResettingChannelConnector(Duration connectTimeout) {
        this.connectTimeout = connectTimeout;
    }

    @Override
    public SocketChannel connect(Endpoint endpoint) throws IOException {
        SocketChannel channel = SocketChannel.open();
        try {
            channel.setOption(StandardSocketOptions.SO_LINGER, 0);
            channel.socket().connect(new InetSocketAddress(endpoint.host(), endpoint.port()), (int) connectTimeout.toMillis());
            return channel;
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    @Override
    public SocketChannel channel(SocketChannel connection) {
        return connection;
    }
}
