package io.github.portkeeper.core.testing;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A user's {@link Connector} over blocking {@link SocketChannel}s, written against the public API
 * only, with an optional protocol goodbye for {@code Retirement.requestPeerClose}.
 */
public final class ChannelConnector implements Connector<SocketChannel> {

    private final byte[] goodbye;
    private final AtomicInteger goodbyesSent = new AtomicInteger();
    private final AtomicInteger disposed = new AtomicInteger();

    private ChannelConnector(byte[] goodbye) {
        this.goodbye = goodbye;
    }

    /** A connector whose protocol has no goodbye. */
    public static ChannelConnector plain() {
        return new ChannelConnector(null);
    }

    /** A connector that asks the peer to close by writing {@code goodbye} (e.g. {@code "QUIT"}). */
    public static ChannelConnector withGoodbye(String goodbye) {
        return new ChannelConnector(goodbye.getBytes(StandardCharsets.US_ASCII));
    }

    @Override
    public SocketChannel connect(Endpoint endpoint) throws IOException {
        return SocketChannel.open(new InetSocketAddress(endpoint.host(), endpoint.port()));
    }

    @Override
    public SocketChannel channel(SocketChannel connection) {
        return connection;
    }

    @Override
    public boolean requestPeerClose(SocketChannel connection) throws IOException {
        if (goodbye == null) {
            return false;
        }
        ByteBuffer bytes = ByteBuffer.wrap(goodbye);
        int spins = 0;
        while (bytes.hasRemaining()) {
            if (connection.write(bytes) == 0 && ++spins > 1_000) {
                throw new IOException("could not write the goodbye: send buffer full");
            }
        }
        goodbyesSent.incrementAndGet();
        return true;
    }

    @Override
    public void dispose(SocketChannel connection) {
        disposed.incrementAndGet();
    }

    public int goodbyesSent() {
        return goodbyesSent.get();
    }

    public int disposed() {
        return disposed.get();
    }
}
