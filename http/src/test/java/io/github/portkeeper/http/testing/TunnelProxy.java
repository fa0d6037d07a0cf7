package io.github.portkeeper.http.testing;

import io.github.portkeeper.core.testing.ConnectionThreads;
import io.github.portkeeper.test.FreshPort;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A plain HTTP forward proxy on loopback that answers every {@code CONNECT} with 200 and relays
 * the tunnel to its target. When the target ends, the proxy does not pass that end on: it keeps
 * the client's side open until the client closes it, so the client's close is always the first
 * on that connection, and it is the client's own socket options that decide how it ends (a FIN,
 * and a client TIME_WAIT, or an RST). Thread per connection; thread-safe.
 */
public final class TunnelProxy implements AutoCloseable {

    private final ServerSocket listener;
    private final ConnectionThreads threads;
    private final List<String> connectLines = new CopyOnWriteArrayList<>();

    public TunnelProxy() throws IOException {
        this.listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50);
        this.threads = new ConnectionThreads(listener, "tunnel-proxy", client -> () -> serve(client));
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

    private void serve(Socket client) {
        try (client) {
            client.setSoTimeout(10_000);
            InputStream in = new BufferedInputStream(client.getInputStream());
            String connectLine = Tunnel.readConnectLine(in);
            if (connectLine == null) {
                return;
            }
            connectLines.add(connectLine);
            try (Socket target = Tunnel.openTarget(connectLine)) {
                client.setSoTimeout(0);
                Tunnel.answerEstablished(client.getOutputStream());
                InputStream fromTarget = target.getInputStream();
                // At the target's end the client's side is left open (see the class comment).
                Thread downstream = new Thread(() -> Tunnel.relay(fromTarget, client), "tunnel-proxy-down-" + client.getPort());
                downstream.setDaemon(true);
                downstream.start();
                Tunnel.relay(in, target); // until the client ends its side: then both close here
            }
        } catch (IOException e) {
            // the client or the target went away, or the proxy is closing
        } finally {
            threads.ended(client);
        }
    }

    /** Stops accepting and closes every connection. */
    @Override
    public void close() {
        threads.close();
    }
}
