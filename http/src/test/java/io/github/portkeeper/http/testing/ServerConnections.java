package io.github.portkeeper.http.testing;

import com.github.tomakehurst.wiremock.http.trafficlistener.WiremockNetworkTrafficListener;

import java.io.ByteArrayOutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * WireMock's view of its connections, through its network traffic listener: which client ports
 * it accepted and closed and, for plain HTTP when asked, the request heads each connection
 * carried (so a request can be tied to the connection it came on, which WireMock's request
 * journal cannot do). Thread-safe.
 */
public final class ServerConnections implements WiremockNetworkTrafficListener {

    /** One accepted connection. */
    public static final class Connection {
        private final Socket socket;
        private final int clientPort;
        private final ByteArrayOutputStream incoming = new ByteArrayOutputStream();
        private volatile boolean closed;

        Connection(Socket socket) {
            this.socket = socket;
            this.clientPort = socket.getPort();
        }

        public int clientPort() {
            return clientPort;
        }

        public boolean isClosed() {
            return closed;
        }

        /** The request heads received on this connection, in order (requests without bodies only). */
        public List<String> requestHeads() {
            String text;
            synchronized (incoming) {
                text = incoming.toString(StandardCharsets.ISO_8859_1);
            }
            List<String> heads = new ArrayList<>();
            int from = 0;
            int end;
            while ((end = text.indexOf("\r\n\r\n", from)) >= 0) {
                heads.add(text.substring(from, end));
                from = end + 4;
            }
            return heads;
        }

        /** Whether each request head on this connection carried {@code Connection: close}, in order. */
        public List<Boolean> asksToClose() {
            List<Boolean> out = new ArrayList<>();
            for (String head : requestHeads()) {
                boolean close = false;
                for (String line : head.split("\r\n")) {
                    String l = line.toLowerCase(Locale.ROOT);
                    if (l.startsWith("connection:") && l.substring("connection:".length()).contains("close")) {
                        close = true;
                    }
                }
                out.add(close);
            }
            return out;
        }

        @Override
        public String toString() {
            return "Connection[client port " + clientPort + (closed ? ", closed" : "") + "]";
        }
    }

    private final boolean recordBytes;
    private final List<Connection> connections = new CopyOnWriteArrayList<>();

    private ServerConnections(boolean recordBytes) {
        this.recordBytes = recordBytes;
    }

    /** Records connections only. */
    public static ServerConnections counting() {
        return new ServerConnections(false);
    }

    /** Records connections and the bytes they carried (plain HTTP: the requests). */
    public static ServerConnections recording() {
        return new ServerConnections(true);
    }

    @Override
    public void opened(Socket socket) {
        connections.add(new Connection(socket));
    }

    @Override
    public void incoming(Socket socket, ByteBuffer bytes) {
        if (!recordBytes) {
            return;
        }
        Connection c = find(socket);
        if (c != null) {
            ByteBuffer view = bytes.duplicate();
            byte[] copy = new byte[view.remaining()];
            view.get(copy);
            synchronized (c.incoming) {
                c.incoming.writeBytes(copy);
            }
        }
    }

    @Override
    public void outgoing(Socket socket, ByteBuffer bytes) {
        // Responses are not needed.
    }

    @Override
    public void closed(Socket socket) {
        Connection c = find(socket);
        if (c != null) {
            c.closed = true;
        }
    }

    private Connection find(Socket socket) {
        for (int i = connections.size() - 1; i >= 0; i--) {
            Connection c = connections.get(i);
            if (c.socket == socket) {
                return c;
            }
        }
        return null;
    }

    /** Every connection accepted so far, in order. */
    public List<Connection> connections() {
        return List.copyOf(connections);
    }

    /** Connections accepted so far. */
    public int opened() {
        return connections.size();
    }

    /** Client ports of the connections accepted so far, in order. */
    public List<Integer> clientPorts() {
        List<Integer> ports = new ArrayList<>();
        for (Connection c : connections) {
            ports.add(c.clientPort);
        }
        return ports;
    }

    @Override
    public String toString() {
        return "ServerConnections" + connections;
    }
}
