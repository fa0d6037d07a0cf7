package io.github.portkeeper.cli.lab;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An HTTP/1.1 keep-alive server that answers as {@code python3 -m http.server --protocol HTTP/1.1}
 * does: the head in one write, the body in a second, Nagle's algorithm on. On a reused connection
 * the body then waits for the client's delayed ACK of the head. It never closes an idle connection.
 */
final class SmallWritesServer implements AutoCloseable {

    private static final byte[] HEAD = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII);
    private static final byte[] BODY = "ok\n".getBytes(StandardCharsets.US_ASCII);

    private final ServerSocket server;
    private final AtomicLong accepted = new AtomicLong();

    SmallWritesServer() throws IOException {
        server = new ServerSocket(0, 100, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::acceptLoop, "small-writes-server");
        t.setDaemon(true);
        t.start();
    }

    int port() {
        return server.getLocalPort();
    }

    long accepted() {
        return accepted.get();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                accepted.incrementAndGet();
                s.setTcpNoDelay(false);
                Thread t = new Thread(() -> serve(s));
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void serve(Socket s) {
        try (s) {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            while (readHead(in)) {
                out.write(HEAD);
                out.flush();
                out.write(BODY);
                out.flush();
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    /** Reads a request head up to its blank line; false at end of stream. */
    private static boolean readHead(InputStream in) throws IOException {
        int matched = 0;
        for (int b = in.read(); b >= 0; b = in.read()) {
            matched = (b == '\r' && matched % 2 == 0) || (b == '\n' && matched % 2 == 1) ? matched + 1 : 0;
            if (matched == 4) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
