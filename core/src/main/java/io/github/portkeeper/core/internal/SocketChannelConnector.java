package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;

/**
 * Opens blocking {@link SocketChannel}s: a channel, rather than a plain {@link Socket}, so the
 * idle watcher can register idle connections with a selector.
 */
public final class SocketChannelConnector implements Connector<SocketChannel> {

    private final int connectTimeoutMillis;
    private final int readTimeoutMillis;
    private final boolean tcpNoDelay;
    private final boolean keepAlive;

    public SocketChannelConnector(int connectTimeoutMillis, int readTimeoutMillis, boolean tcpNoDelay, boolean keepAlive) {
        this.connectTimeoutMillis = connectTimeoutMillis;
        this.readTimeoutMillis = readTimeoutMillis;
        this.tcpNoDelay = tcpNoDelay;
        this.keepAlive = keepAlive;
    }

    @Override
    public SocketChannel connect(Endpoint endpoint) throws IOException {
        SocketChannel channel = SocketChannel.open();
        try {
            channel.setOption(StandardSocketOptions.TCP_NODELAY, tcpNoDelay);
            channel.setOption(StandardSocketOptions.SO_KEEPALIVE, keepAlive);
            // An interrupt during connect makes the JDK close the channel; if the handshake had
            // completed, SO_LINGER 0 makes that close an RST (no TIME_WAIT for a failed connect).
            channel.setOption(StandardSocketOptions.SO_LINGER, 0);
            Socket socket = channel.socket();
            socket.connect(new InetSocketAddress(endpoint.host(), endpoint.port()), connectTimeoutMillis);
            socket.setSoTimeout(readTimeoutMillis);
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

    public int readTimeoutMillis() {
        return readTimeoutMillis;
    }
}
