package io.github.portkeeper.http.testing;

import io.github.portkeeper.core.testing.ConnectionThreads;
import io.github.portkeeper.test.FreshPort;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A SOCKS5 proxy on loopback: it answers the greeting (no authentication), reads the
 * {@code CONNECT} request (an IPv4 or IPv6 address) and then relays it to its target, refuses it,
 * or closes the connection without a reply (the proxy's FIN comes first).
 *
 * <p>A refusal is the reply's head ({@code 0x05 0x05 0x00 0x01}: "connection refused", an IPv4
 * bound address to follow), written on its own, as a proxy that writes its reply field by field
 * does; the bound address is never sent, and the connection is left open until the client closes
 * it. The client's close comes first and it has read all it was sent, so its own socket options
 * decide how it ends: a FIN and a client TIME_WAIT, or an RST. (Bytes left unread would make any
 * close an RST.) Thread per connection; thread-safe.
 */
public final class Socks5Proxy implements AutoCloseable {

    /** What the proxy does with a {@code CONNECT} request. */
    public enum Policy {
        /**
         * Connects to the target and relays both ways; when the target ends, the client's side is
         * left open until the client closes it (as {@link TunnelProxy} does).
         */
        RELAY,
        /** Replies "connection refused" and waits for the client to close. */
        REFUSE,
        /** Closes the connection without a reply. */
        CLOSE
    }

    private final ServerSocket listener;
    private final ConnectionThreads threads;
    private final Policy policy;
    private final AtomicInteger connectRequests = new AtomicInteger();

    public Socks5Proxy(Policy policy) throws IOException {
        this.policy = policy;
        this.listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 50);
        this.threads = new ConnectionThreads(listener, "socks5-proxy", client -> () -> serve(client));
        threads.start();
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
    }

    /** How many {@code CONNECT} requests were read so far. */
    public int connectRequests() {
        return connectRequests.get();
    }

    private void serve(Socket client) {
        try (client) {
            client.setSoTimeout(10_000);
            DataInputStream in = new DataInputStream(client.getInputStream());
            OutputStream out = client.getOutputStream();
            if (in.readUnsignedByte() != 5) {
                return;
            }
            in.skipNBytes(in.readUnsignedByte()); // the methods offered
            out.write(new byte[] {5, 0}); // no authentication
            out.flush();
            in.skipNBytes(3); // version, CONNECT, reserved
            int addressType = in.readUnsignedByte();
            if (addressType != 1 && addressType != 4) {
                return; // host names are not needed here
            }
            byte[] address = in.readNBytes(addressType == 1 ? 4 : 16);
            int port = in.readUnsignedShort();
            connectRequests.incrementAndGet();
            if (policy == Policy.CLOSE) {
                return;
            }
            if (policy == Policy.RELAY) {
                relay(client, in, out, new InetSocketAddress(InetAddress.getByAddress(address), port));
                return;
            }
            out.write(new byte[] {5, 5, 0, 1}); // connection refused; the head only (see the class comment)
            out.flush();
            client.setSoTimeout(0);
            while (in.read() >= 0) { // until the client closes
            }
        } catch (IOException e) {
            // the client went away, or the proxy is closing
        } finally {
            threads.ended(client);
        }
    }

    private static void relay(Socket client, InputStream in, OutputStream out, InetSocketAddress target)
            throws IOException {
        try (Socket upstream = new Socket(target.getAddress(), target.getPort())) {
            out.write(new byte[] {5, 0, 0, 1, 0, 0, 0, 0, 0, 0}); // succeeded (the bound address is not used)
            out.flush();
            client.setSoTimeout(0);
            InputStream fromTarget = upstream.getInputStream();
            Thread downstream = new Thread(() -> Tunnel.relay(fromTarget, client), "socks5-proxy-down-" + client.getPort());
            downstream.setDaemon(true);
            downstream.start();
            Tunnel.relay(in, upstream); // until the client ends its side: then both close here
        }
    }

    /** Stops accepting and closes every connection. */
    @Override
    public void close() {
        threads.close();
    }
}
