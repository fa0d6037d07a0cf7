package io.github.portkeeper.cli.lab;

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
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small HTTP/1.1 server on loopback that keeps connections alive and closes those idle longer
 * than its idle timeout itself, first, as nginx, Tomcat or Node do. It answers every request with
 * {@code 200 ok} and {@code Keep-Alive: timeout=N} (whole seconds, when the timeout is one).
 *
 * <p>It listens on a port of its own outside the ephemeral port range, one no socket on the host
 * uses, so that counting sockets by its port counts this server's connections and nothing else.
 *
 * <p>One thread per connection from a cached pool; thread-safe.
 */
final class EmbeddedServer implements AutoCloseable {

    private static final int HEAD_TIMEOUT_MILLIS = 10_000;
    private static final int MAX_HEAD_BYTES = 16 * 1024;
    private static final byte[] BODY = "ok\n".getBytes(StandardCharsets.US_ASCII);
    /** Ports handed out in this JVM, so no mode ever shares a server port with an earlier one. */
    private static final Set<Integer> USED_PORTS = ConcurrentHashMap.newKeySet();

    private final ServerSocket listener;
    private final int idleMillis;
    private final byte[] keepAliveResponse;
    private final byte[] closeResponse;
    private final ExecutorService workers;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong served = new AtomicLong();
    private final AtomicLong idleClosed = new AtomicLong();
    private volatile boolean closed;

    private EmbeddedServer(ServerSocket listener, Duration idleTimeout) {
        this.listener = listener;
        this.idleMillis = (int) Math.max(1, Math.min(Integer.MAX_VALUE, idleTimeout.toMillis()));
        String keepAlive = idleTimeout.toMillis() >= 1000 ? "Keep-Alive: timeout=" + idleTimeout.toSeconds() + "\r\n" : "";
        this.keepAliveResponse = response(keepAlive);
        this.closeResponse = response("Connection: close\r\n");
        AtomicInteger n = new AtomicInteger();
        this.workers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "lab-server-" + listener.getLocalPort() + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts a server on 127.0.0.1 that closes connections idle longer than {@code idleTimeout}. */
    static EmbeddedServer start(Duration idleTimeout) throws IOException {
        EmbeddedServer server = new EmbeddedServer(bind(), idleTimeout);
        Thread acceptor = new Thread(server::acceptLoop, "lab-server-accept-" + server.port());
        acceptor.setDaemon(true);
        acceptor.start();
        return server;
    }

    InetSocketAddress address() {
        return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
    }

    int port() {
        return listener.getLocalPort();
    }

    /** Connections accepted so far: one per connection a client opened. */
    long accepted() {
        return accepted.get();
    }

    /** Connections open now. */
    int openConnections() {
        return open.size();
    }

    /** Requests answered so far. */
    long served() {
        return served.get();
    }

    /** Connections this server closed first because they were idle past the timeout. */
    long idleClosed() {
        return idleClosed.get();
    }

    @Override
    public void close() {
        closed = true;
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        for (Socket s : open) {
            closeQuietly(s);
        }
        workers.shutdownNow();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = listener.accept();
            } catch (IOException e) {
                return; // closed
            }
            accepted.incrementAndGet();
            open.add(s);
            try {
                workers.execute(() -> serve(s));
            } catch (RuntimeException rejected) {
                open.remove(s);
                closeQuietly(s);
            }
        }
    }

    private void serve(Socket s) {
        try {
            s.setTcpNoDelay(true);
            InputStream in = new BufferedInputStream(s.getInputStream(), 4096);
            OutputStream out = s.getOutputStream();
            while (!closed) {
                s.setSoTimeout(idleMillis);
                int first;
                try {
                    first = in.read();
                } catch (SocketTimeoutException idle) {
                    idleClosed.incrementAndGet();
                    break; // idle past the timeout: this server closes first
                }
                if (first == -1) {
                    break; // the client closed first
                }
                s.setSoTimeout(HEAD_TIMEOUT_MILLIS);
                boolean keepAlive = readRequest(first, in);
                served.incrementAndGet(); // before the answer, so a client that has it sees it counted
                out.write(keepAlive ? keepAliveResponse : closeResponse);
                out.flush();
                if (!keepAlive) {
                    break; // the client asked us to close: we close first, as HTTP says
                }
            }
        } catch (IOException e) {
            // reset by the client, or a malformed request: drop the connection
        } finally {
            open.remove(s);
            closeQuietly(s);
        }
    }

    /** Reads one request head (and skips a body); returns whether the connection stays open. */
    private static boolean readRequest(int first, InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        line.append((char) first);
        boolean http10 = false;
        boolean keepAliveAsked = false;
        boolean closeAsked = false;
        long contentLength = 0;
        int lineNo = 0;
        int total = 1;
        while (true) {
            int b = in.read();
            if (b == -1) {
                throw new IOException("end of stream inside a request head");
            }
            if (++total > MAX_HEAD_BYTES) {
                throw new IOException("request head longer than " + MAX_HEAD_BYTES + " bytes");
            }
            if (b != '\n') {
                line.append((char) b);
                continue;
            }
            String l = line.toString().strip();
            line.setLength(0);
            if (lineNo++ == 0) {
                http10 = l.endsWith("HTTP/1.0");
                continue;
            }
            if (l.isEmpty()) {
                break;
            }
            int colon = l.indexOf(':');
            if (colon <= 0) {
                continue;
            }
            String name = l.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = l.substring(colon + 1).trim().toLowerCase(Locale.ROOT);
            if (name.equals("connection")) {
                closeAsked |= value.contains("close");
                keepAliveAsked |= value.contains("keep-alive");
            } else if (name.equals("content-length")) {
                contentLength = Long.parseLong(value);
            } else if (name.equals("transfer-encoding")) {
                throw new IOException("request bodies with transfer-encoding are not supported");
            }
        }
        if (contentLength > 0) {
            in.skipNBytes(contentLength);
        }
        return !closeAsked && (!http10 || keepAliveAsked);
    }

    private static byte[] response(String extraHeaders) {
        String head = "HTTP/1.1 200 OK\r\n"
                + "Content-Type: text/plain\r\n"
                + "Content-Length: " + BODY.length + "\r\n"
                + extraHeaders
                + "\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[h.length + BODY.length];
        System.arraycopy(h, 0, all, 0, h.length);
        System.arraycopy(BODY, 0, all, h.length, BODY.length);
        return all;
    }

    /**
     * Binds a listener on 127.0.0.1, on a port outside the ephemeral range (so no client
     * connection can have it as its local port) that no socket uses yet and no earlier server of
     * this JVM had.
     */
    private static ServerSocket bind() throws IOException {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        HostFacts facts = HostFacts.read();
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = 10_000 + random.nextInt(65_535 - 10_000 + 1);
            if (facts.isEphemeral(port) || USED_PORTS.contains(port) || facts.portInUse(port)) {
                continue;
            }
            ServerSocket ss = new ServerSocket();
            try {
                ss.setReuseAddress(false);
                ss.bind(new InetSocketAddress(loopback, port), 1024);
            } catch (IOException taken) {
                ss.close();
                continue;
            }
            USED_PORTS.add(port);
            return ss;
        }
        // The host's range leaves no room (or /proc is absent): let the kernel choose.
        ServerSocket ss = new ServerSocket(0, 1024, loopback);
        USED_PORTS.add(ss.getLocalPort());
        return ss;
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
