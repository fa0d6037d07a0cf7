package io.github.portkeeper.rpc.internal;

import java.net.Socket;
import java.nio.channels.SocketChannel;

/**
 * A pooled connection carrying a user's own blocking client, built once around the connection's
 * guarded socket and kept for the connection's life.
 *
 * @param <T> the user's client type
 */
public final class ClientConnection<T> {

    final SocketChannel channel;
    final ClientSocket socket;
    T client;

    ClientConnection(SocketChannel channel) throws java.net.SocketException {
        this.channel = channel;
        this.socket = new ClientSocket(channel.socket());
    }

    /** The user's client. */
    public T client() {
        return client;
    }

    /** Whether the client's stream hit an I/O error or the peer's end of stream: not reusable. */
    public boolean isDamaged() {
        return socket.damaged || socket.closedByClient;
    }

    /** Resets SO_TIMEOUT to the pool's default when the connection is given back. */
    public void restoreTimeout(int millis) throws java.net.SocketException {
        Socket s = channel.socket();
        if (s.getSoTimeout() != millis) {
            s.setSoTimeout(millis);
        }
    }
}
