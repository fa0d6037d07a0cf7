package io.github.portkeeper.core.budget;

import io.github.portkeeper.core.KernelProbe;
import io.github.portkeeper.core.SocketTable;
import io.github.portkeeper.core.TcpState;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback TCP server that accepts connections and holds them open; it never closes one first.
 * With {@code echo} each connection gets a thread that echoes 4-byte requests back. One accept
 * thread (daemon); {@link #close()} closes the listener and every connection. Thread-safe.
 */
final class HoldingServer implements AutoCloseable {

    private final ServerSocket listener;
    private final boolean echo;
    private final List<Socket> accepted = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    private HoldingServer(ServerSocket listener, boolean echo) {
        this.listener = listener;
        this.echo = echo;
        this.acceptor = new Thread(this::acceptLoop, "holding-server-" + listener.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Listens on {@code address} (port 0: any free port). */
    static HoldingServer start(InetSocketAddress address, boolean echo) throws IOException {
        ServerSocket ss = new ServerSocket();
        ss.setReuseAddress(true);
        ss.bind(address, 4096);
        return new HoldingServer(ss, echo);
    }

    /**
     * Listens on {@code 127.0.0.1}, on {@code port}, holding connections without echo. Port 0
     * takes a free port that no socket on this host points at yet: an earlier test's client
     * socket toward an earlier server on the same port number (in TIME_WAIT for 60 s) would
     * otherwise count as another process's socket toward this one.
     */
    static HoldingServer onLoopback(int port) throws IOException {
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        KernelProbe kernel = KernelProbe.linux();
        if (port != 0 || !kernel.isAvailable()) {
            return start(address, false);
        }
        for (int attempt = 1; ; attempt++) {
            HoldingServer server = start(address, false);
            SocketTable table = kernel.snapshot();
            int pointing = 0;
            for (TcpState state : TcpState.values()) {
                pointing += table.countToRemote(state, server.address());
            }
            if (pointing == 0 || attempt == 50) {
                return server;
            }
            server.close();
        }
    }

    int port() {
        return listener.getLocalPort();
    }

    InetSocketAddress address() {
        return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
    }

    /** Connections accepted so far. */
    int accepted() {
        return accepted.size();
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            Socket c;
            try {
                c = listener.accept();
            } catch (IOException e) {
                return;
            }
            accepted.add(c);
            if (echo) {
                Thread t = new Thread(() -> serve(c), "holding-server-echo");
                t.setDaemon(true);
                t.start();
            }
        }
    }

    /** Echoes 4-byte requests until the client closes (end of stream) or resets; then closes passively. */
    private static void serve(Socket c) {
        try (c) {
            InputStream in = c.getInputStream();
            OutputStream out = c.getOutputStream();
            byte[] buf = new byte[4];
            while (in.readNBytes(buf, 0, 4) == 4) {
                out.write(buf);
                out.flush();
            }
        } catch (IOException e) {
            // reset by the client or closed by close(): nothing to do
        }
    }

    @Override
    public void close() {
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing
        }
        for (Socket s : accepted) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        try {
            acceptor.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
