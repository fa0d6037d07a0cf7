package io.github.portkeeper.rpc.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.channels.SocketChannel;

/**
 * One pooled RPC connection: a connected blocking channel and the streams kept for it. Used by
 * one lease holder at a time; the pool's thread touches it only while it is idle (to send the
 * codec's goodbye) or closing.
 */
public final class RpcConnection {

    private static final int INPUT_BUFFER = 8 * 1024;

    final SocketChannel channel;
    final Socket socket;
    final ResponseInput in;
    final OutputStream out;

    RpcConnection(SocketChannel channel) throws IOException {
        this.channel = channel;
        this.socket = channel.socket();
        this.in = new ResponseInput(socket, socket.getInputStream(), INPUT_BUFFER);
        this.out = socket.getOutputStream();
    }

    /** The local port, for diagnostics and tests. */
    public int localPort() {
        return socket.getLocalPort();
    }

    @Override
    public String toString() {
        return "RpcConnection[" + socket.getLocalSocketAddress() + " -> " + socket.getRemoteSocketAddress() + "]";
    }
}
