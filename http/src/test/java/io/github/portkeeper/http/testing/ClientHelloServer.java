package io.github.portkeeper.http.testing;

import io.github.portkeeper.test.FreshPort;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback server that reads the TLS ClientHello of each connection, records the cipher suites
 * it offers, and closes the connection: the handshake fails, but what the client offered is
 * known, with no certificate the client would have to trust. For settings that only change what
 * a client offers ({@code https.cipherSuites}, {@code https.protocols}). Thread-safe.
 */
public final class ClientHelloServer implements AutoCloseable {

    private final ServerSocket listener;
    private final List<List<Integer>> offered = new CopyOnWriteArrayList<>();

    private ClientHelloServer() throws IOException {
        listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 10);
        Thread acceptor = new Thread(() -> {
            while (true) {
                Socket accepted;
                try {
                    accepted = listener.accept();
                } catch (IOException closed) {
                    return;
                }
                try (Socket s = accepted) {
                    offered.add(cipherSuites(new DataInputStream(s.getInputStream())));
                } catch (IOException | RuntimeException notAClientHello) {
                    offered.add(List.of());
                }
            }
        }, "client-hello-server");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Starts the server on a free loopback port. */
    public static ClientHelloServer start() throws IOException {
        return new ClientHelloServer();
    }

    public int port() {
        return listener.getLocalPort();
    }

    /**
     * The cipher suites (IANA codes, such as {@code 0xC02F}) each ClientHello offered, in the
     * order the connections came; an empty list for a connection that sent no ClientHello.
     */
    public List<List<Integer>> offeredCipherSuites() {
        return List.copyOf(offered);
    }

    /** Reads one TLS record holding a ClientHello (RFC 8446 4.1.2) up to its cipher suites. */
    private static List<Integer> cipherSuites(DataInputStream in) throws IOException {
        if (in.readUnsignedByte() != 22) { // handshake record
            return List.of();
        }
        in.readUnsignedShort(); // record version
        byte[] record = new byte[in.readUnsignedShort()];
        in.readFully(record);
        ByteBuffer b = ByteBuffer.wrap(record);
        if (b.get() != 1) { // client_hello
            return List.of();
        }
        b.position(b.position() + 3 + 2 + 32); // length, legacy_version, random
        int sessionIdLength = b.get() & 0xff;
        b.position(b.position() + sessionIdLength); // legacy_session_id
        int length = b.getShort() & 0xffff;
        List<Integer> suites = new ArrayList<>();
        for (int i = 0; i < length / 2; i++) {
            suites.add(b.getShort() & 0xffff);
        }
        return suites;
    }

    @Override
    public void close() throws IOException {
        listener.close();
    }
}
