package io.github.portkeeper.core.budget;

import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Endpoint;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A user's {@link Connector} over blocking {@link SocketChannel}s, written against the public
 * API only, that counts its connect attempts (what a circuit breaker must stop). Thread-safe.
 */
final class Channels implements Connector<SocketChannel> {

    private static final int CONNECT_TIMEOUT_MILLIS = 5_000;

    private final AtomicInteger attempts = new AtomicInteger();
    private final AtomicInteger failures = new AtomicInteger();

    @Override
    public SocketChannel connect(Endpoint endpoint) throws IOException {
        attempts.incrementAndGet();
        SocketChannel channel = SocketChannel.open();
        try {
            channel.socket().connect(new InetSocketAddress(endpoint.host(), endpoint.port()), CONNECT_TIMEOUT_MILLIS);
            channel.socket().setSoTimeout(CONNECT_TIMEOUT_MILLIS);
            return channel;
        } catch (IOException | RuntimeException e) {
            failures.incrementAndGet();
            channel.close();
            throw e;
        }
    }

    @Override
    public SocketChannel channel(SocketChannel connection) {
        return connection;
    }

    /** Calls of {@link #connect}, successful or not. */
    int attempts() {
        return attempts.get();
    }

    int failures() {
        return failures.get();
    }
}
