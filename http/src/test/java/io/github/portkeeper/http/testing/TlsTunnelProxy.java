package io.github.portkeeper.http.testing;

import io.github.portkeeper.core.testing.ConnectionThreads;
import io.github.portkeeper.test.FreshPort;

import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An HTTPS forward proxy on loopback: the client speaks TLS to the proxy itself (with
 * {@link TestCertificate}'s certificate), sends a {@code CONNECT}, and the proxy relays the tunnel
 * to the target over plain TCP. The client's TLS session with the target then runs inside the
 * proxy's TLS session: two TLS layers over one TCP connection. When either side ends, the proxy
 * closes both. Thread per connection; thread-safe.
 */
public final class TlsTunnelProxy implements AutoCloseable {

    private final ServerSocket listener;
    private final ConnectionThreads threads;
    private final List<String> connectLines = new CopyOnWriteArrayList<>();

    public TlsTunnelProxy() throws Exception {
        javax.net.ssl.SSLContext context = TestCertificate.serverContext();
        this.listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50);
        this.threads = new ConnectionThreads(listener, "tls-tunnel-proxy", plain -> () -> serve(context, plain));
        threads.start();
    }

    public int port() {
        return listener.getLocalPort();
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
    }

    /** The request line of every {@code CONNECT} received so far. */
    public List<String> connectLines() {
        return List.copyOf(connectLines);
    }

    private void serve(javax.net.ssl.SSLContext context, Socket plain) {
        try (plain) {
            SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(plain, null, plain.getPort(), true);
            tls.setUseClientMode(false);
            plain.setSoTimeout(10_000);
            tls.startHandshake();
            InputStream in = tls.getInputStream();
            String connectLine = Tunnel.readConnectLine(in);
            if (connectLine == null) {
                return;
            }
            connectLines.add(connectLine);
            try (Socket target = Tunnel.openTarget(connectLine)) {
                plain.setSoTimeout(0);
                Tunnel.answerEstablished(tls.getOutputStream());
                Thread upstream = new Thread(() -> pump(in, target, plain), "tls-tunnel-proxy-up-" + plain.getPort());
                upstream.setDaemon(true);
                upstream.start();
                pump(target.getInputStream(), tls, target);
            }
        } catch (IOException e) {
            // the client or the target went away, or the proxy is closing
        } finally {
            threads.ended(plain);
        }
    }

    /** Copies until either side ends, then closes {@code also}, which ends the other direction. */
    private static void pump(InputStream from, Socket to, Socket also) {
        try {
            Tunnel.relay(from, to);
        } finally {
            ConnectionThreads.closeQuietly(to);
            ConnectionThreads.closeQuietly(also);
        }
    }

    /** Stops accepting and closes every connection. */
    @Override
    public void close() {
        threads.close();
    }
}
