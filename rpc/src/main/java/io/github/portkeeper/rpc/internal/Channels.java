package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.Endpoint;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;

/**
 * Opens the blocking {@link SocketChannel}s under every RPC connection: a channel, not a plain
 * socket, so the pool's idle watcher can register idle connections with its selector; blocking,
 * so protocols read and write it through its socket's streams with SO_TIMEOUT.
 */
final class Channels {

    private Channels() {
    }

    static SocketChannel open(Endpoint endpoint, SocketOptions options) throws IOException {
        SocketChannel channel = SocketChannel.open();
        try {
            channel.setOption(StandardSocketOptions.TCP_NODELAY, options.tcpNoDelay());
            channel.setOption(StandardSocketOptions.SO_KEEPALIVE, options.keepAlive());
            channel.socket().connect(new InetSocketAddress(endpoint.host(), endpoint.port()), options.connectTimeoutMillis());
            return channel;
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // Never established; nothing else to release.
        }
    }
}
