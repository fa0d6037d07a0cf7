package io.github.portkeeper.core.testing;

import io.github.portkeeper.test.FreshPort;
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
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real TCP server on {@code 127.0.0.1}, port 0, scripted with policies (MockWebServer style,
 * for raw sockets): it answers requests and, depending on its policies, closes connections that
 * idle too long (so it, not the client, sends the first FIN), closes on a goodbye, sends bytes
 * nobody asked for, or resets.
 *
 * <p>Exchanges:
 * <ul>
 *   <li>{@link Exchange#INT_PLUS_ONE} (default): the client writes a 4-byte big-endian int, the
 *       server answers with the int plus one. A goodbye must then be exactly 4 bytes
 *       (e.g. {@code "QUIT"}).</li>
 *   <li>{@link Exchange#ECHO_LINES}: the client writes a line ending in {@code \n}, the server
 *       writes it back. A goodbye is a line (without its {@code \n}).</li>
 * </ul>
 *
 * <p>A thread per connection (daemon); {@link #close()} closes the listener and every connection
 * and joins the threads. Every connection's end is recorded with how it ended and when
 * ({@link System#nanoTime()}), so tests can measure how fast the client reacted.
 *
 * <p>Thread-safe: policies are fixed at {@link Builder#start()}, counters are concurrent.
 */
public final class ScriptedServer implements AutoCloseable {

    /** The request/response shape the server speaks. */
    public enum Exchange { INT_PLUS_ONE, ECHO_LINES }

    /** Why a server-side connection ended. */
    public enum End {
        /** The server closed an idle connection after {@code closeAfterIdle}: it sent the first FIN. */
        SERVER_IDLE_CLOSE,
        /** The server closed after reading the goodbye (and writing its reply, if any). */
        SERVER_GOODBYE_CLOSE,
        /** The server closed right after its last allowed response ({@code closeAfterResponses}). */
        SERVER_LAST_RESPONSE_CLOSE,
        /** The server reset the connection on purpose ({@code resetOnAccept}, {@link #resetNextRequest()}). */
        SERVER_RESET,
        /** The client closed first (end of stream): the server closed passively. */
        CLIENT_FIN,
        /** The client reset the connection (or it failed otherwise). */
        CLIENT_RESET_OR_ERROR,
        /** The server itself was closed. */
        SERVER_SHUTDOWN
    }

    /**
     * One ended connection, seen from the server.
     *
     * @param clientPort the client's (ephemeral) port, i.e. the pool socket's local port
     * @param end        how it ended
     * @param nanoTime   {@link System#nanoTime()} right after the server closed its socket
     */
    public record Ended(int clientPort, End end, long nanoTime) {
    }

    private static final byte[] GARBAGE = "UNSOLICITED\n".getBytes(StandardCharsets.US_ASCII);

    private final Exchange exchange;
    private final Duration closeAfterIdle;
    private final byte[] goodbye;
    private final byte[] goodbyeReply;
    private final Duration garbageAfter;
    private final boolean resetOnAccept;
    private final Duration resetAfterIdle;
    private final int maxResponses;

    private final ServerSocket listener;
    private final ConnectionThreads threads;
    private final List<Ended> ended = new CopyOnWriteArrayList<>();
    private final BlockingQueue<Ended> endings = new LinkedBlockingQueue<>();
    private final AtomicInteger accepted = new AtomicInteger();
    private final AtomicInteger requests = new AtomicInteger();
    private final AtomicInteger garbageSent = new AtomicInteger();
    private final AtomicBoolean resetNext = new AtomicBoolean();

    private ScriptedServer(Builder b) throws IOException {
        this.exchange = b.exchange;
        this.closeAfterIdle = b.closeAfterIdle;
        this.goodbye = b.goodbye;
        this.goodbyeReply = b.goodbyeReply;
        this.garbageAfter = b.garbageAfter;
        this.resetOnAccept = b.resetOnAccept;
        this.resetAfterIdle = b.resetAfterIdle;
        this.maxResponses = b.maxResponses;
        this.listener = FreshPort.listen(b.bindAddress, 512);
        this.threads = new ConnectionThreads(listener, "scripted-server", this::accepted);
        threads.start();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A request/response server ({@link Exchange#INT_PLUS_ONE}) with no other policy. */
    public static ScriptedServer start() throws IOException {
        return builder().start();
    }

    public int port() {
        return listener.getLocalPort();
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
    }

    /** The loopback host name the server listens on, for {@code Endpoint.of(host, port)}. */
    public String host() {
        return listener.getInetAddress().getHostAddress();
    }

    /** Connections accepted so far. */
    public int accepted() {
        return accepted.get();
    }

    /** Requests answered so far, counted as the answer goes out (a client holding an answer sees it counted; goodbyes not counted). */
    public int requests() {
        return requests.get();
    }

    /** Connections still open on the server side. */
    public int openConnections() {
        return threads.openConnections();
    }

    /** How many times unsolicited bytes were sent. */
    public int garbageSent() {
        return garbageSent.get();
    }

    /** Every connection that has ended so far, in the order they ended. */
    public List<Ended> ended() {
        return List.copyOf(ended);
    }

    public long endedCount(End end) {
        return ended.stream().filter(e -> e.end() == end).count();
    }

    /**
     * Waits for the next connection to end, in the order they ended, and returns it; {@code null}
     * if none ended within {@code timeout}. Wakes the caller as soon as the server has closed.
     */
    public Ended nextEnd(Duration timeout) throws InterruptedException {
        return endings.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /**
     * As {@link #nextEnd}, but spinning instead of parking, so the caller is on a CPU and runs the
     * moment the server has closed: for tests of what a client does right after a peer's FIN.
     * Bounded by {@code timeout}.
     */
    public Ended spinForNextEnd(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Ended end;
        while ((end = endings.poll()) == null && System.nanoTime() - deadline < 0) {
            Thread.onSpinWait();
        }
        return end;
    }

    /** The next request, on whichever connection, is answered by an RST instead of a response. */
    public void resetNextRequest() {
        resetNext.set(true);
    }

    /** Closes the listener and all connections, and joins the server's threads (at most 5 s in all). */
    @Override
    public void close() {
        threads.close();
    }

    @Override
    public String toString() {
        return "ScriptedServer[" + address() + ", accepted=" + accepted + ", open=" + threads.openConnections() + "]";
    }

    // ------------------------------------------------------------------ server side

    /** On the accepting thread: a reset at once, or the connection's work. */
    private Runnable accepted(Socket s) {
        accepted.incrementAndGet();
        if (resetOnAccept) {
            reset(s);
            record(new Ended(s.getPort(), End.SERVER_RESET, System.nanoTime()));
            return null;
        }
        return () -> serve(s);
    }

    private void serve(Socket s) {
        End end;
        try {
            end = converse(s);
        } catch (IOException e) {
            end = threads.isClosed() ? End.SERVER_SHUTDOWN : End.CLIENT_RESET_OR_ERROR;
        }
        if (end != End.SERVER_RESET) {
            ConnectionThreads.closeQuietly(s);
        }
        threads.ended(s);
        record(new Ended(s.getPort(), end, System.nanoTime()));
    }

    private void record(Ended end) {
        ended.add(end);
        endings.add(end);
    }

    /** Serves one connection until it ends; returns how. The caller closes the socket. */
    private End converse(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        long idleSince = System.nanoTime();
        boolean garbageDone = false;
        int responses = 0;
        for (;;) {
            // Wait for the first byte of the next request, at most until the next idle action is due.
            long now = System.nanoTime();
            long dueIn = Long.MAX_VALUE;
            if (closeAfterIdle != null) {
                dueIn = Math.min(dueIn, idleSince + closeAfterIdle.toNanos() - now);
            }
            if (resetAfterIdle != null) {
                dueIn = Math.min(dueIn, idleSince + resetAfterIdle.toNanos() - now);
            }
            if (garbageAfter != null && !garbageDone) {
                dueIn = Math.min(dueIn, idleSince + garbageAfter.toNanos() - now);
            }
            int first;
            if (dueIn != Long.MAX_VALUE && dueIn <= 0) {
                first = -2; // due already
            } else {
                s.setSoTimeout(dueIn == Long.MAX_VALUE ? 0 : (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(dueIn + 999_999)));
                try {
                    first = in.read();
                } catch (SocketTimeoutException timeout) {
                    first = -2;
                }
            }
            if (first == -2) {
                now = System.nanoTime();
                if (garbageAfter != null && !garbageDone && now - idleSince >= garbageAfter.toNanos()) {
                    out.write(GARBAGE);
                    out.flush();
                    garbageSent.incrementAndGet();
                    garbageDone = true;
                }
                if (resetAfterIdle != null && now - idleSince >= resetAfterIdle.toNanos()) {
                    reset(s);
                    return End.SERVER_RESET; // an abort (RST), as a keepalive failure or a crashed peer looks
                }
                if (closeAfterIdle != null && now - idleSince >= closeAfterIdle.toNanos()) {
                    return End.SERVER_IDLE_CLOSE; // the caller closes: our FIN goes first
                }
                continue;
            }
            if (first < 0) {
                return End.CLIENT_FIN;
            }
            s.setSoTimeout(5_000); // the rest of a request follows at once
            byte[] request = readRest(in, first);
            if (goodbye != null && Arrays.equals(request, goodbye)) {
                if (goodbyeReply != null) {
                    out.write(goodbyeReply);
                    out.flush();
                }
                return End.SERVER_GOODBYE_CLOSE;
            }
            if (resetNext.compareAndSet(true, false)) {
                reset(s);
                return End.SERVER_RESET;
            }
            requests.incrementAndGet(); // before the answer: a client that has it sees it counted
            out.write(answer(request));
            out.flush();
            if (++responses == maxResponses) {
                return End.SERVER_LAST_RESPONSE_CLOSE;
            }
            idleSince = System.nanoTime();
            garbageDone = false;
        }
    }

    /** The rest of the request whose first byte was {@code first}, without a line's {@code \n}. */
    private byte[] readRest(InputStream in, int first) throws IOException {
        if (exchange == Exchange.INT_PLUS_ONE) {
            byte[] frame = new byte[4];
            frame[0] = (byte) first;
            if (in.readNBytes(frame, 1, 3) != 3) {
                throw new EOFException("request cut short");
            }
            return frame;
        }
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b = first;
        while (b != '\n') {
            line.write(b);
            b = in.read();
            if (b < 0) {
                throw new EOFException("line cut short");
            }
        }
        return line.toByteArray();
    }

    private byte[] answer(byte[] request) {
        if (exchange == Exchange.INT_PLUS_ONE) {
            return ByteBuffer.allocate(4).putInt(ByteBuffer.wrap(request).getInt() + 1).array();
        }
        byte[] line = Arrays.copyOf(request, request.length + 1);
        line[request.length] = '\n';
        return line;
    }

    private static void reset(Socket s) {
        try {
            s.setSoLinger(true, 0);
        } catch (IOException ignored) {
            // closing anyway
        }
        ConnectionThreads.closeQuietly(s);
    }

    // ------------------------------------------------------------------ client side of the protocol

    /** One {@link Exchange#INT_PLUS_ONE} exchange over a socket: writes {@code value}, reads the answer. */
    public static int exchange(Socket socket, int value) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write(ByteBuffer.allocate(4).putInt(value).array());
        out.flush();
        byte[] answer = socket.getInputStream().readNBytes(4);
        if (answer.length < 4) {
            throw new EOFException("server closed the connection (" + answer.length + " of 4 bytes read)");
        }
        return ByteBuffer.wrap(answer).getInt();
    }

    /** One {@link Exchange#INT_PLUS_ONE} exchange over a blocking channel. */
    public static int exchange(SocketChannel channel, int value) throws IOException {
        ByteBuffer request = ByteBuffer.allocate(4).putInt(value).flip();
        while (request.hasRemaining()) {
            channel.write(request);
        }
        ByteBuffer answer = ByteBuffer.allocate(4);
        while (answer.hasRemaining()) {
            if (channel.read(answer) < 0) {
                throw new EOFException("server closed the connection (" + answer.position() + " of 4 bytes read)");
            }
        }
        return answer.flip().getInt();
    }

    /** Builds a {@link ScriptedServer}. Not thread-safe. */
    public static final class Builder {

        private Exchange exchange = Exchange.INT_PLUS_ONE;
        private Duration closeAfterIdle;
        private byte[] goodbye;
        private byte[] goodbyeReply;
        private Duration garbageAfter;
        private boolean resetOnAccept;
        private Duration resetAfterIdle;
        private int maxResponses;
        private InetAddress bindAddress = InetAddress.getLoopbackAddress();

        private Builder() {
        }

        /** Listens on {@code address} (a loopback address, e.g. {@code ::1}) instead of {@code 127.0.0.1}. */
        public Builder bindAddress(InetAddress address) {
            this.bindAddress = Objects.requireNonNull(address, "address");
            return this;
        }

        public Builder exchange(Exchange exchange) {
            this.exchange = Objects.requireNonNull(exchange, "exchange");
            return this;
        }

        /** Echo lines instead of the 4-byte request/response. */
        public Builder echoLines() {
            return exchange(Exchange.ECHO_LINES);
        }

        /** The server closes (FIN first) any connection idle for {@code idle} since its last response. */
        public Builder closeAfterIdle(Duration idle) {
            this.closeAfterIdle = positive(idle, "closeAfterIdle");
            return this;
        }

        /** The server closes a connection when it reads {@code goodbye} instead of a request. */
        public Builder closeOnGoodbye(String goodbye) {
            return closeOnGoodbye(goodbye, null);
        }

        /** As {@link #closeOnGoodbye(String)}, writing {@code reply} before closing (like Redis' {@code +OK} to {@code QUIT}). */
        public Builder closeOnGoodbye(String goodbye, String reply) {
            this.goodbye = goodbye.getBytes(StandardCharsets.US_ASCII);
            this.goodbyeReply = reply == null ? null : reply.getBytes(StandardCharsets.US_ASCII);
            return this;
        }

        /** After {@code after} idle, the server writes bytes nobody asked for (once per idle period). */
        public Builder sendGarbageWhenIdle(Duration after) {
            this.garbageAfter = positive(after, "sendGarbageWhenIdle");
            return this;
        }

        /**
         * The server closes a connection (FIN first) right after its {@code n}-th response, as
         * servers with a per-connection request limit do (nginx {@code keepalive_requests}).
         */
        public Builder closeAfterResponses(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("closeAfterResponses must be at least 1, but was " + n);
            }
            this.maxResponses = n;
            return this;
        }

        /** Every accepted connection is reset at once (RST, no response). */
        public Builder resetOnAccept() {
            this.resetOnAccept = true;
            return this;
        }

        /** The server resets (RST, SO_LINGER 0) any connection idle for {@code idle} since its last response. */
        public Builder resetAfterIdle(Duration idle) {
            this.resetAfterIdle = positive(idle, "resetAfterIdle");
            return this;
        }

        public ScriptedServer start() throws IOException {
            if (goodbye != null && exchange == Exchange.INT_PLUS_ONE && goodbye.length != 4) {
                throw new IllegalArgumentException("goodbye must be 4 bytes with INT_PLUS_ONE, but was " + goodbye.length);
            }
            return new ScriptedServer(this);
        }

        private static Duration positive(Duration d, String name) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + " must be positive, but was " + d);
            }
            return d;
        }
    }
}
