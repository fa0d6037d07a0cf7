package io.github.portkeeper.http.testing;

import io.github.portkeeper.test.FreshPort;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback server that accepts connections and never sends a byte: a TLS server that never
 * answers the ClientHello, an HTTP server that never answers. Closing it closes what it accepted.
 */
public final class SilentServer implements AutoCloseable {

    private final ServerSocket listener;
    private final List<Socket> accepted = new CopyOnWriteArrayList<>();

    private SilentServer(InetAddress address, int port) throws IOException {
        listener = port == 0 ? FreshPort.listen(address, 10) : new ServerSocket(port, 10, address);
        Thread acceptor = new Thread(() -> {
            try {
                while (true) {
                    accepted.add(listener.accept());
                }
            } catch (IOException closed) {
                // the server was closed
            }
        }, "silent-server");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Starts a silent server on a free loopback port. */
    public static SilentServer start() throws IOException {
        return new SilentServer(InetAddress.getLoopbackAddress(), 0);
    }

    /** Starts a silent server on {@code port} of {@code address} (another loopback address, say). */
    public static SilentServer start(InetAddress address, int port) throws IOException {
        return new SilentServer(address, port);
    }

    public int port() {
        return listener.getLocalPort();
    }

    /** How many connections it has accepted. */
    public int acceptedCount() {
        return accepted.size();
    }

    @Override
    public void close() throws IOException {
        listener.close();
        for (Socket s : accepted) {
            s.close();
        }
    }
}
