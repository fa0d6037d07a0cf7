package io.github.portkeeper.http.testing;

import io.github.portkeeper.core.testing.ConnectionThreads;
import io.github.portkeeper.test.FreshPort;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
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
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A minimal HTTP/1.1 keep-alive server on {@code 127.0.0.1}, port 0, scripted with policies
 * (MockWebServer style) for what WireMock cannot be told to do:
 * <ul>
 *   <li>{@link Builder#closeIdleAfter}: a connection idle that long between requests is closed
 *       by the server, which sends the first FIN (a server idle timeout you control to the
 *       millisecond; the JDK HttpServer's {@code sun.net.httpserver.idleInterval} is read once per
 *       JVM and enforced on a coarse timer tick);</li>
 *   <li>{@link Builder#keepAliveTimeoutHeader}: every response announces
 *       {@code Keep-Alive: timeout=N};</li>
 *   <li>{@link Builder#closeAfterEachResponse}: the server closes right after each response
 *       without announcing it ({@code Connection: close} is not sent);</li>
 *   <li>{@link Builder#dropRequest}: the n-th request on each connection is read in full and the
 *       connection is closed without a response (a server that died mid-exchange).</li>
 * </ul>
 * <li>{@link Builder#responder}: each response is scripted per request, raw bytes included
 *       (extra bytes after a complete response, a slow response, a 401 followed by a close).</li>
 * <li>{@link Builder#tls}: HTTPS, with {@link TestCertificate}'s certificate; each write is then
 *       one TLS record (up to 16 KiB), so a reply says what shares a record.</li>
 * A request carrying {@code Connection: close} is answered with {@code Connection: close} and the
 * server closes after the response, as servers do. Every request is recorded with the client port
 * of its connection, every connection's end with how it ended.
 *
 * <p>A thread per connection (daemon); {@link #close()} closes the listener and every connection
 * and joins the threads (bounded). Thread-safe.
 */
public final class ScriptedHttpServer implements AutoCloseable {

    /** One request as the server read it. Header names are lower-cased. */
    public record Request(int clientPort, int numberOnConnection, String method, String target,
                          Map<String, String> headers) {

        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        /** Whether the request carries the {@code close} connection option. */
        public boolean asksToClose() {
            String connection = header("connection");
            return connection != null && Arrays.stream(connection.split(","))
                    .anyMatch(t -> t.trim().equalsIgnoreCase("close"));
        }
    }

    /**
     * What the server sends for one request: raw {@code bytes} (head and body, and whatever else
     * the test wants on the wire), sent after waiting {@code delay} (bounded by {@link #close()}),
     * then whether the server closes the connection. The bytes go in one write, or in two if
     * {@code firstWrite} (the length of the first) is positive.
     */
    public record Reply(byte[] bytes, Duration delay, boolean closeAfter, int firstWrite) {

        public Reply(byte[] bytes, Duration delay, boolean closeAfter) {
            this(bytes, delay, closeAfter, 0);
        }

        /** A 200 response with {@code body}, then {@code extra} raw bytes in the same write. */
        public static Reply ok(String body, String extra) {
            return new Reply(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + body.length()
                    + "\r\n\r\n" + body + extra).getBytes(StandardCharsets.ISO_8859_1), Duration.ZERO, false);
        }

        /** The same reply, sent only after {@code delay}. */
        public Reply after(Duration delay) {
            return new Reply(bytes, delay, closeAfter, firstWrite);
        }

        /** The same reply, after which the server closes the connection. */
        public Reply thenClose() {
            return new Reply(bytes, delay, true, firstWrite);
        }

        /**
         * The same reply with the head (up to its blank line) in a write of its own, and the rest
         * (body and any extra bytes) in a second one: over TLS, in a record of its own.
         */
        public Reply headInItsOwnWrite() {
            String text = new String(bytes, StandardCharsets.ISO_8859_1);
            int end = text.indexOf("\r\n\r\n");
            if (end < 0) {
                throw new IllegalStateException("no blank line after a head in " + text);
            }
            return new Reply(bytes, delay, closeAfter, end + 4);
        }
    }

    /** Scripts the reply to each request. */
    @FunctionalInterface
    public interface Responder {
        Reply reply(Request request);
    }

    /** Why a server-side connection ended. */
    public enum End {
        /** Idle longer than {@code closeIdleAfter}: the server sent the first FIN. */
        SERVER_IDLE_CLOSE,
        /** {@code closeAfterEachResponse}: the server closed right after a response, unannounced. */
        SERVER_CLOSE_AFTER_RESPONSE,
        /** The client asked with {@code Connection: close}; the server closed after responding. */
        SERVER_CLOSE_REQUESTED,
        /** {@code dropRequest}: the server read a request and closed without responding. */
        SERVER_DROPPED_REQUEST,
        /** The client closed first (end of stream): the server closed passively. */
        CLIENT_FIN,
        /** The client reset the connection, or it failed otherwise. */
        CLIENT_RESET_OR_ERROR,
        /** The server itself was closed. */
        SERVER_SHUTDOWN
    }

    /** One ended connection, seen from the server. */
    public record Ended(int clientPort, End end, int requests) {
    }

    private static final int MAX_HEAD = 64 * 1024;

    private final long idleMillis;
    private final int keepAliveTimeoutSeconds;
    private final boolean closeAfterEachResponse;
    private final int dropRequest;
    private final byte[] body;
    private final Responder responder;
    /** The server's TLS context, or null for plain HTTP. */
    private final SSLContext tls;
    /** Over TLS: whether the server's closes send a {@code close_notify} before the FIN. */
    private final boolean closeNotify;
    private final java.util.concurrent.CountDownLatch closing = new java.util.concurrent.CountDownLatch(1);

    private final ServerSocket listener;
    private final ConnectionThreads threads;
    private final List<Integer> acceptedPorts = new CopyOnWriteArrayList<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final List<Ended> ended = new CopyOnWriteArrayList<>();

    private ScriptedHttpServer(Builder b) throws IOException {
        this.idleMillis = b.closeIdleAfter == null ? 0 : Math.max(1, b.closeIdleAfter.toMillis());
        this.keepAliveTimeoutSeconds = b.keepAliveTimeoutSeconds;
        this.closeAfterEachResponse = b.closeAfterEachResponse;
        this.dropRequest = b.dropRequest;
        this.body = b.body;
        this.responder = b.responder;
        this.tls = b.tls;
        this.closeNotify = b.closeNotify;
        this.listener = FreshPort.listen(InetAddress.getLoopbackAddress(), 512);
        this.threads = new ConnectionThreads(listener, "scripted-http", this::accepted);
        threads.start();
    }

    public static Builder builder() {
        return new Builder();
    }

    public int port() {
        return listener.getLocalPort();
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
    }

    /** {@code http://127.0.0.1:port} (https with {@link Builder#tls}) followed by {@code path}. */
    public String url(String path) {
        return (tls != null ? "https://" : "http://") + listener.getInetAddress().getHostAddress() + ":" + port() + path;
    }

    /** Client ports of the connections accepted so far, in order. */
    public List<Integer> acceptedPorts() {
        return List.copyOf(acceptedPorts);
    }

    /** Every request read so far, in order. */
    public List<Request> requests() {
        return List.copyOf(requests);
    }

    /** Requests read so far with this method. */
    public List<Request> requests(String method) {
        return requests.stream().filter(r -> r.method().equals(method)).collect(Collectors.toList());
    }

    /** Every connection that has ended so far, in the order they ended. */
    public List<Ended> ended() {
        return List.copyOf(ended);
    }

    public long endedCount(End end) {
        return ended.stream().filter(e -> e.end() == end).count();
    }

    /** Connections still open on the server side. */
    public int openConnections() {
        return threads.openConnections();
    }

    /** Closes the listener and all connections, and joins the server's threads (at most 5 s). */
    @Override
    public void close() {
        closing.countDown(); // wakes a delayed reply
        threads.close();
    }

    @Override
    public String toString() {
        return "ScriptedHttpServer[" + address() + ", accepted=" + acceptedPorts.size() + ", open=" + threads.openConnections()
                + ", requests=" + requests.size() + "]";
    }

    // ------------------------------------------------------------------ server side

    private Runnable accepted(Socket s) {
        acceptedPorts.add(s.getPort());
        return () -> serve(s);
    }

    private void serve(Socket s) {
        End end = End.SERVER_SHUTDOWN;
        int n = 0;
        Socket io = s;
        try {
            s.setTcpNoDelay(true);
            if (tls != null) {
                // Layered over the plain socket, which alone is closed at the end (a FIN, as
                // without TLS; no close_notify unless tlsWithCloseNotify).
                SSLSocket layered = (SSLSocket) tls.getSocketFactory().createSocket(s, null, s.getPort(), false);
                layered.setUseClientMode(false);
                s.setSoTimeout(10_000);
                layered.startHandshake();
                io = layered;
            }
            InputStream in = new BufferedInputStream(io.getInputStream());
            OutputStream out = io.getOutputStream();
            while (!threads.isClosed()) {
                // Between requests: the idle timer runs (0 = wait forever).
                s.setSoTimeout((int) idleMillis);
                int first;
                try {
                    first = in.read();
                } catch (SocketTimeoutException idle) {
                    end = End.SERVER_IDLE_CLOSE;
                    break;
                }
                if (first < 0) {
                    end = End.CLIENT_FIN;
                    break;
                }
                s.setSoTimeout(10_000);
                Request r = readRequest(first, in, s.getPort(), ++n);
                requests.add(r);
                if (n == dropRequest) {
                    end = End.SERVER_DROPPED_REQUEST;
                    break;
                }
                boolean clientAsksToClose = r.asksToClose();
                if (responder != null) {
                    Reply reply = responder.reply(r);
                    if (!reply.delay().isZero() && closing.await(reply.delay().toMillis(), TimeUnit.MILLISECONDS)) {
                        break;
                    }
                    int firstWrite = reply.firstWrite() > 0 ? reply.firstWrite() : reply.bytes().length;
                    out.write(reply.bytes(), 0, firstWrite);
                    out.flush();
                    if (firstWrite < reply.bytes().length) {
                        out.write(reply.bytes(), firstWrite, reply.bytes().length - firstWrite);
                        out.flush();
                    }
                    if (reply.closeAfter() || clientAsksToClose) {
                        end = reply.closeAfter() ? End.SERVER_CLOSE_AFTER_RESPONSE : End.SERVER_CLOSE_REQUESTED;
                        break;
                    }
                    continue;
                }
                out.write(response(clientAsksToClose));
                out.flush();
                if (clientAsksToClose) {
                    end = End.SERVER_CLOSE_REQUESTED;
                    break;
                }
                if (closeAfterEachResponse) {
                    end = End.SERVER_CLOSE_AFTER_RESPONSE;
                    break;
                }
            }
        } catch (IOException e) {
            end = threads.isClosed() ? End.SERVER_SHUTDOWN : End.CLIENT_RESET_OR_ERROR;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            // Everything the client sent has been read, so this close sends a FIN, not an RST.
            if (closeNotify && io != s && end != End.CLIENT_RESET_OR_ERROR) {
                try {
                    io.shutdownOutput(); // close_notify, then the FIN below
                } catch (IOException ignored) {
                    // The client is gone; the close below is all there is.
                }
            }
            ConnectionThreads.closeQuietly(s);
            threads.ended(s);
            ended.add(new Ended(s.getPort(), end, n));
        }
    }

    private byte[] response(boolean close) {
        StringBuilder head = new StringBuilder("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ")
                .append(body.length).append("\r\n");
        if (keepAliveTimeoutSeconds > 0) {
            head.append("Keep-Alive: timeout=").append(keepAliveTimeoutSeconds).append("\r\n");
        }
        if (close) {
            head.append("Connection: close\r\n");
        }
        head.append("\r\n");
        byte[] h = head.toString().getBytes(StandardCharsets.US_ASCII);
        byte[] all = Arrays.copyOf(h, h.length + body.length);
        System.arraycopy(body, 0, all, h.length, body.length);
        return all;
    }

    private static Request readRequest(int first, InputStream in, int clientPort, int number) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        head.write(first);
        int b;
        while (!endsWithBlankLine(head)) {
            b = in.read();
            if (b < 0) {
                throw new EOFException("request head cut short");
            }
            head.write(b);
            if (head.size() > MAX_HEAD) {
                throw new IOException("request head too large");
            }
        }
        String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
        String[] requestLine = lines[0].split(" ");
        Map<String, String> headers = new HashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.merge(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim(),
                        (a, c) -> a + ", " + c);
            }
        }
        String length = headers.get("content-length");
        if (length != null) {
            long remaining = Long.parseLong(length);
            while (remaining > 0) {
                long skipped = in.skip(remaining);
                if (skipped <= 0) {
                    if (in.read() < 0) {
                        throw new EOFException("request body cut short");
                    }
                    skipped = 1;
                }
                remaining -= skipped;
            }
        } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            throw new IOException("chunked request bodies are not supported by this test server");
        }
        return new Request(clientPort, number, requestLine[0], requestLine.length > 1 ? requestLine[1] : "", Map.copyOf(headers));
    }

    private static boolean endsWithBlankLine(ByteArrayOutputStream head) {
        int n = head.size();
        if (n < 4) {
            return false;
        }
        byte[] b = head.toByteArray();
        return b[n - 4] == '\r' && b[n - 3] == '\n' && b[n - 2] == '\r' && b[n - 1] == '\n';
    }

    /** Policies of a {@link ScriptedHttpServer}. Not thread-safe. */
    public static final class Builder {

        private Duration closeIdleAfter;
        private int keepAliveTimeoutSeconds;
        private boolean closeAfterEachResponse;
        private int dropRequest;
        private byte[] body = "ok".getBytes(StandardCharsets.US_ASCII);
        private Responder responder;
        private boolean closeNotify;
        private SSLContext tls;

        private Builder() {
        }

        /** Closes (server first) a connection that stays idle this long between requests. */
        public Builder closeIdleAfter(Duration idle) {
            this.closeIdleAfter = idle;
            return this;
        }

        /** Every response carries {@code Keep-Alive: timeout=seconds}. */
        public Builder keepAliveTimeoutHeader(int seconds) {
            this.keepAliveTimeoutSeconds = seconds;
            return this;
        }

        /** Closes each connection right after its first response, without {@code Connection: close}. */
        public Builder closeAfterEachResponse() {
            this.closeAfterEachResponse = true;
            return this;
        }

        /** Reads the {@code n}-th request of each connection (1-based) and closes without a response. */
        public Builder dropRequest(int n) {
            this.dropRequest = n;
            return this;
        }

        /** The body of every response. Default {@code "ok"}. */
        public Builder body(String body) {
            this.body = body.getBytes(StandardCharsets.UTF_8);
            return this;
        }

        /** Scripts every reply (the other response policies then do not apply). */
        public Builder responder(Responder responder) {
            this.responder = responder;
            return this;
        }

        /**
         * Serves HTTPS as {@link #tls()} does, and ends each connection the server closes as TLS
         * servers do: a {@code close_notify} alert, then the FIN.
         */
        public Builder tlsWithCloseNotify() throws Exception {
            tls();
            this.closeNotify = true;
            return this;
        }

        /** Serves HTTPS with {@link TestCertificate}'s self-signed certificate. */
        public Builder tls() throws Exception {
            this.tls = TestCertificate.serverContext();
            return this;
        }

        public ScriptedHttpServer start() throws IOException {
            return new ScriptedHttpServer(this);
        }
    }
}
