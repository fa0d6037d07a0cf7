package io.github.portkeeper.http.testing;

import io.github.portkeeper.test.FreshPort;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A forward proxy on loopback that demands Basic credentials: without them it answers 407 with
 * {@code Connection: close} and a body, and closes; with them it tunnels a {@code CONNECT} to its
 * target, or answers a plain proxied request itself ({@code 200 proxied <target>}).
 *
 * <p>It records every connection and every request line it read, per connection, so a test can
 * see whether a client sent anything on a connection the proxy had asked to close: after its 407
 * the proxy keeps reading that connection for a moment instead of closing at once, so a request
 * sent there is seen (and recorded) rather than lost in a reset.
 */
public final class AuthenticatingProxy implements AutoCloseable {

    /** What the proxy saw on one accepted connection, in order. */
    public record Seen(int clientPort, List<String> requestLines) {
    }

    private static final int SO_TIMEOUT_MILLIS = 10_000;
    /** How long the proxy keeps reading a connection after its 407 before it closes it. */
    private static final int LINGER_AFTER_CLOSE_MILLIS = 300;

    private final String expectedAuthorization;
    private final ServerSocket listener;
    private final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<String> requestsAfterClose = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    /** Starts a proxy on an ephemeral loopback port that accepts {@code user}:{@code password}. */
    public AuthenticatingProxy(String user, String password) throws IOException {
        this.expectedAuthorization = "Basic " + Base64.getEncoder()
                .encodeToString((user + ":" + password).getBytes(StandardCharsets.ISO_8859_1));
        this.listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50);
        this.acceptor = new Thread(this::acceptLoop, "authenticating-proxy-" + listener.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** The proxy's address. */
    public InetSocketAddress address() {
        return (InetSocketAddress) listener.getLocalSocketAddress();
    }

    /** Every connection accepted so far, with the request lines read on it. */
    public List<Seen> connections() {
        return List.copyOf(seen);
    }

    /** Request lines that arrived on a connection after the proxy answered it with {@code Connection: close}. */
    public List<String> requestsAfterClose() {
        return List.copyOf(requestsAfterClose);
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            Socket socket;
            try {
                socket = listener.accept();
            } catch (IOException e) {
                return; // closed
            }
            sockets.add(socket);
            Thread handler = new Thread(() -> serve(socket), "authenticating-proxy-conn-" + socket.getPort());
            handler.setDaemon(true);
            handler.start();
        }
    }

    private void serve(Socket socket) {
        List<String> lines = new CopyOnWriteArrayList<>();
        seen.add(new Seen(socket.getPort(), lines));
        try (socket) {
            socket.setSoTimeout(SO_TIMEOUT_MILLIS);
            InputStream in = new BufferedInputStream(socket.getInputStream());
            OutputStream out = socket.getOutputStream();
            List<String> head = RequestHead.read(in);
            if (head.isEmpty()) {
                return;
            }
            lines.add(head.get(0));
            if (!expectedAuthorization.equals(header(head, "proxy-authorization"))) {
                byte[] body = "proxy credentials required".getBytes(StandardCharsets.US_ASCII);
                out.write(("HTTP/1.1 407 Proxy Authentication Required\r\n"
                        + "Proxy-Authenticate: Basic realm=\"proxy\"\r\nConnection: close\r\n"
                        + "Content-Type: text/plain\r\nContent-Length: " + body.length + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
                // Anything the client still sends here ignored the close it was asked for.
                socket.setSoTimeout(LINGER_AFTER_CLOSE_MILLIS);
                try {
                    List<String> late = RequestHead.read(in);
                    if (!late.isEmpty()) {
                        lines.add(late.get(0));
                        requestsAfterClose.add(late.get(0));
                    }
                } catch (IOException quietOrGone) {
                    // the client did as asked
                }
                return;
            }
            String[] requestLine = head.get(0).split(" ");
            if ("CONNECT".equals(requestLine[0])) {
                tunnel(socket, in, out, head.get(0));
            } else {
                byte[] body = ("proxied " + requestLine[1]).getBytes(StandardCharsets.US_ASCII);
                out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + body.length
                        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
            }
        } catch (IOException e) {
            // the client went away or the proxy is closing
        }
    }

    private void tunnel(Socket client, InputStream in, OutputStream out, String connectLine) throws IOException {
        try (Socket target = Tunnel.openTarget(connectLine)) {
            sockets.add(target);
            client.setSoTimeout(0); // a pooled tunnel may sit idle for the rest of the test
            Tunnel.answerEstablished(out);
            Thread upstream = new Thread(() -> pump(in, target), "authenticating-proxy-up-" + client.getPort());
            upstream.setDaemon(true);
            upstream.start();
            pump(target.getInputStream(), client);
        }
    }

    /** Copies until end of stream, then passes the end on as a FIN. */
    private static void pump(InputStream from, Socket to) {
        if (Tunnel.relay(from, to)) {
            try {
                to.shutdownOutput();
            } catch (IOException e) {
                // one side is gone; closing the proxy ends the other
            }
        }
    }

    private static String header(List<String> head, String name) {
        for (String line : head.subList(1, head.size())) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals(name)) {
                return line.substring(colon + 1).trim();
            }
        }
        return null;
    }

    /** Stops accepting and closes every connection, tunnels included. */
    @Override
    public void close() throws IOException {
        listener.close();
        for (Socket socket : sockets) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
