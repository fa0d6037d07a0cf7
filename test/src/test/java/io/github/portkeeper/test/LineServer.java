package io.github.portkeeper.test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback server for the kit's tests: echoes lines until the client closes (so a client that
 * closes first gets the TIME_WAIT), or, when {@code closeOnAccept}, closes every connection at
 * once (so a client that never closes is left in CLOSE_WAIT).
 */
public final class LineServer implements AutoCloseable {

    private final ServerSocket server;
    private final boolean closeOnAccept;
    private final List<Socket> open = new CopyOnWriteArrayList<>();

    private LineServer(boolean closeOnAccept, InetAddress bindTo) throws IOException {
        this.closeOnAccept = closeOnAccept;
        this.server = new ServerSocket(0, 50, bindTo);
        Thread t = new Thread(this::acceptLoop, "line-server-" + server.getLocalPort());
        t.setDaemon(true);
        t.start();
    }

    public static LineServer echo() throws IOException {
        return new LineServer(false, InetAddress.getLoopbackAddress());
    }

    /** An echo server on {@code bindTo}, e.g. the IPv6 loopback address. */
    public static LineServer echoOn(InetAddress bindTo) throws IOException {
        return new LineServer(false, bindTo);
    }

    public static LineServer closingOnAccept() throws IOException {
        return new LineServer(true, InetAddress.getLoopbackAddress());
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                return;
            }
            if (closeOnAccept) {
                close(s);
                continue;
            }
            open.add(s);
            Thread t = new Thread(() -> echo(s));
            t.setDaemon(true);
            t.start();
        }
    }

    private void echo(Socket s) {
        try (s) {
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = s.getOutputStream();
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                out.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
            }
        } catch (IOException e) {
            // the client went away
        } finally {
            open.remove(s);
        }
    }

    private static void close(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        open.forEach(LineServer::close);
    }
}
