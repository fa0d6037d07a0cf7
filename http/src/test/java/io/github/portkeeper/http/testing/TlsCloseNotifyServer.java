package io.github.portkeeper.http.testing;

import io.github.portkeeper.core.testing.ConnectionThreads;
import io.github.portkeeper.test.FreshPort;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An HTTPS keep-alive server (WireMock's self-signed certificate) that closes a connection idle
 * for {@code idle} the way TLS servers do, in two steps a set {@code gap} apart: first a TLS
 * {@code close_notify} alert (bytes on an idle connection), then the TCP FIN. Jetty does the same
 * with a gap of microseconds, so whether a client sees the two together is a matter of luck; a
 * gap makes it deterministic. Thread per connection; thread-safe.
 */
public final class TlsCloseNotifyServer implements AutoCloseable {

    private final SSLContext context;
    private final long idleMillis;
    private final long gapMillis;
    private final ServerSocket listener;
    private final ConnectionThreads threads;
    private final List<Integer> idleClosedPorts = new CopyOnWriteArrayList<>();

    public TlsCloseNotifyServer(Duration idle, Duration gap) throws Exception {
        this.context = TestCertificate.serverContext();
        this.idleMillis = idle.toMillis();
        this.gapMillis = gap.toMillis();
        this.listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50);
        this.threads = new ConnectionThreads(listener, "tls-close-notify", plain -> () -> serve(plain));
        threads.start();
    }

    public int port() {
        return listener.getLocalPort();
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
    }

    public String url(String path) {
        return "https://127.0.0.1:" + port() + path;
    }

    /** Client ports of connections the server closed for idleness. */
    public List<Integer> idleClosedPorts() {
        return List.copyOf(idleClosedPorts);
    }

    private void serve(Socket plain) {
        try {
            plain.setTcpNoDelay(true);
            // Layered over the plain socket, not auto-closing it: closing the TLS layer sends only
            // close_notify, and the TCP FIN follows when the plain socket is closed.
            SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(plain, null, plain.getPort(), false);
            tls.setUseClientMode(false);
            tls.startHandshake();
            InputStream in = new BufferedInputStream(tls.getInputStream());
            OutputStream out = tls.getOutputStream();
            byte[] body = "secret".getBytes(StandardCharsets.US_ASCII);
            while (!threads.isClosed()) {
                plain.setSoTimeout((int) idleMillis);
                int first;
                try {
                    first = in.read();
                } catch (SocketTimeoutException idle) {
                    idleClosedPorts.add(plain.getPort());
                    tls.close(); // close_notify
                    // Not synchronisation: the scripted gap between close_notify and FIN.
                    Thread.sleep(gapMillis);
                    return;
                }
                if (first < 0) {
                    return;
                }
                plain.setSoTimeout(10_000);
                int matched = 0;
                int b = first;
                while (matched < 4) {
                    matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
                    if (matched < 4) {
                        b = in.read();
                        if (b < 0) {
                            return;
                        }
                    }
                }
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            // Client went away, or the server is closing.
        } finally {
            ConnectionThreads.closeQuietly(plain);
            threads.ended(plain);
        }
    }

    /** Closes the listener and every connection, and joins the server's threads (at most 5 s). */
    @Override
    public void close() {
        threads.close();
    }
}
