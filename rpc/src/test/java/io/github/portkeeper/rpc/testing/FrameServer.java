package io.github.portkeeper.rpc.testing;

import io.github.portkeeper.core.TcpState;
import io.github.portkeeper.core.testing.ConnectionThreads;
import io.github.portkeeper.test.FreshPort;
import io.github.portkeeper.test.Kernel;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A scripted TCP server on {@code 127.0.0.1} that echoes requests, framed as length-prefixed
 * frames or as lines, and misbehaves on demand: {@link #inject(Fault)} makes the next request,
 * on whichever connection, get a fault instead of its echo. The request {@code BYE} is a goodbye:
 * the server closes the connection (its FIN first), without a reply.
 *
 * <p>A thread per connection (daemons). Every request is recorded with the number of the
 * connection it came on, so tests can prove a faulty connection never carried another request.
 * Thread-safe.
 */
public final class FrameServer implements AutoCloseable {

    /** How requests and responses are framed. */
    public enum Framing { LENGTH_PREFIXED, LINES }

    /** What the server does instead of answering. */
    public enum Fault {
        /** Bytes that make no sense in the framing (a nonsense length prefix; invalid UTF-8). The connection stays open. */
        GARBAGE,
        /** A length prefix of 2^31-1 (lines: a line far over any limit). The connection stays open. */
        OVERSIZED_PREFIX,
        /** Half of the echo, then close (FIN). */
        HALF_THEN_CLOSE,
        /** Half of the echo, then nothing until the client goes away. */
        STALL,
        /** Reset (SO_LINGER 0, close) right after reading the request. */
        RESET,
        /** Close (FIN) right after reading the request, without a byte of response. */
        CLOSE_BEFORE_RESPONSE,
        /** The echo, then close (FIN): a server that closes after its answer. */
        ANSWER_THEN_CLOSE,
        /** The echo followed by bytes nobody asked for. */
        TRAILING_BYTES,
        /** 256 KiB without a line end or frame boundary, then nothing. */
        ENDLESS,
        /** The echo, but only once {@link #releaseHeld()} is called: a reply that comes late. The connection stays open. */
        HELD
    }

    /** One request as served. */
    public record Served(int connection, String request, Fault fault) {
    }

    public static final String GOODBYE = "BYE";

    private final Framing framing;
    private final ServerSocket listener;
    private final ConnectionThreads threads;
    private final ConcurrentLinkedQueue<Fault> faults = new ConcurrentLinkedQueue<>();
    private final List<Served> served = new CopyOnWriteArrayList<>();
    private final AtomicInteger accepted = new AtomicInteger();
    private final AtomicInteger goodbyes = new AtomicInteger();
    private final AtomicInteger clientClosed = new AtomicInteger();
    private final CountDownLatch held = new CountDownLatch(1);
    private final AtomicInteger heldAnswered = new AtomicInteger();

    private final Set<Integer> timeWaitAtStart;

    private FrameServer(Framing framing, int port) throws IOException {
        this.framing = framing;
        this.listener = port == 0
                ? FreshPort.bind(() -> listen(0), ServerSocket::getLocalPort, ServerSocket::close)
                : listen(port);
        // Sockets that already look like client TIME_WAIT toward this port: a port bound to 0 is
        // taken from the ephemeral range, so it can be a client port of an earlier test whose
        // server closed first, and that server's TIME_WAIT socket now points here.
        this.timeWaitAtStart = Kernel.isAvailable() ? Kernel.clientPorts(address(), TcpState.TIME_WAIT) : Set.of();
        this.threads = new ConnectionThreads(listener, "frame-server", this::accepted);
        threads.start();
    }

    private static ServerSocket listen(int port) throws IOException {
        ServerSocket s = new ServerSocket();
        try {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 256);
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    public static FrameServer start(Framing framing) throws IOException {
        return new FrameServer(framing, 0);
    }

    /** A server on a given port, for a test that needs the same endpoint to come back. */
    public static FrameServer start(Framing framing, int port) throws IOException {
        return new FrameServer(framing, port);
    }

    /**
     * Client TIME_WAIT sockets toward this server that appeared since it started (by local
     * port): what a test's client left, without the sockets of earlier tests that only look alike.
     */
    public Set<Integer> clientTimeWaitSinceStart() {
        Set<Integer> now = new java.util.TreeSet<>(Kernel.clientPorts(address(), TcpState.TIME_WAIT));
        now.removeAll(timeWaitAtStart);
        return now;
    }

    public int port() {
        return listener.getLocalPort();
    }

    public String host() {
        return listener.getInetAddress().getHostAddress();
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
    }

    /** The next request, on whichever connection, gets {@code fault} instead of its echo. */
    public void inject(Fault fault) {
        faults.add(fault);
    }

    public int accepted() {
        return accepted.get();
    }

    public int goodbyes() {
        return goodbyes.get();
    }

    /** Connections that ended because the client closed or reset them. */
    public int clientClosed() {
        return clientClosed.get();
    }

    /** Lets every {@link Fault#HELD} reply go out, now and from now on. */
    public void releaseHeld() {
        held.countDown();
    }

    /** Held replies written (or attempted, if the client had gone) since {@link #releaseHeld()}. */
    public int heldAnswered() {
        return heldAnswered.get();
    }

    public List<Served> served() {
        return List.copyOf(served);
    }

    public Served lastServed() {
        return served.get(served.size() - 1);
    }

    public int openConnections() {
        return threads.openConnections();
    }

    /** Closes the listener and every connection, and joins the server's threads (at most 5 s). */
    @Override
    public void close() {
        held.countDown();
        threads.close();
    }

    @Override
    public String toString() {
        return "FrameServer[" + address() + ", " + framing + ", accepted=" + accepted + "]";
    }

    private Runnable accepted(Socket s) {
        int id = accepted.getAndIncrement();
        return () -> serve(s, id);
    }

    private void serve(Socket s, int id) {
        try {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            for (;;) {
                byte[] request = readRequest(in);
                if (request == null) {
                    clientClosed.incrementAndGet();
                    return;
                }
                String text = new String(request, StandardCharsets.UTF_8);
                if (GOODBYE.equals(text)) {
                    goodbyes.incrementAndGet();
                    return; // finally closes: our FIN first
                }
                Fault fault = faults.poll();
                served.add(new Served(id, text, fault));
                if (fault == null) {
                    out.write(frame(request));
                    out.flush();
                } else if (!misbehave(fault, s, request)) {
                    return;
                }
            }
        } catch (IOException e) {
            clientClosed.incrementAndGet(); // reset by the client, or the server closing
        } finally {
            ConnectionThreads.closeQuietly(s);
            threads.ended(s);
        }
    }

    /** Returns false if the connection is to end now. */
    private boolean misbehave(Fault fault, Socket s, byte[] request) throws IOException {
        OutputStream out = s.getOutputStream();
        byte[] echo = frame(request);
        switch (fault) {
            case GARBAGE:
                out.write(framing == Framing.LENGTH_PREFIXED
                        ? "GARBAGE!".getBytes(StandardCharsets.US_ASCII)
                        : new byte[] {(byte) 0xC3, 0x28, (byte) 0xFF, '\n'});
                out.flush();
                return true;
            case OVERSIZED_PREFIX:
                if (framing == Framing.LENGTH_PREFIXED) {
                    out.write(new byte[] {0x7F, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 'a', 'b', 'c'});
                } else {
                    byte[] line = new byte[64 * 1024];
                    Arrays.fill(line, (byte) 'x');
                    line[line.length - 1] = '\n';
                    out.write(line);
                }
                out.flush();
                return true;
            case HALF_THEN_CLOSE:
                out.write(echo, 0, echo.length / 2);
                out.flush();
                return false;
            case STALL:
                out.write(echo, 0, echo.length / 2);
                out.flush();
                return true; // goes back to reading: blocks until the client sends or goes away
            case RESET:
                s.setSoLinger(true, 0);
                return false;
            case CLOSE_BEFORE_RESPONSE:
                return false;
            case ANSWER_THEN_CLOSE:
                out.write(echo);
                out.flush();
                return false;
            case TRAILING_BYTES:
                byte[] extra = "EXTRA".getBytes(StandardCharsets.US_ASCII);
                byte[] both = Arrays.copyOf(echo, echo.length + extra.length);
                System.arraycopy(extra, 0, both, echo.length, extra.length);
                out.write(both); // one write, one segment: the client sees the surplus with the response
                out.flush();
                return true;
            case HELD:
                try {
                    awaitRelease();
                    out.write(echo);
                    out.flush();
                } finally {
                    heldAnswered.incrementAndGet();
                }
                return true;
            case ENDLESS:
                byte[] junk = new byte[256 * 1024];
                Arrays.fill(junk, (byte) 'x');
                out.write(junk);
                out.flush();
                return true;
            default:
                throw new IllegalStateException("unknown fault " + fault);
        }
    }

    private void awaitRelease() throws IOException {
        try {
            if (!held.await(30, TimeUnit.SECONDS)) {
                throw new IOException("a held reply was never released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while holding a reply");
        }
    }

    private byte[] frame(byte[] payload) {
        if (framing == Framing.LINES) {
            byte[] line = Arrays.copyOf(payload, payload.length + 1);
            line[payload.length] = '\n';
            return line;
        }
        byte[] f = new byte[payload.length + 4];
        int n = payload.length;
        f[0] = (byte) (n >>> 24);
        f[1] = (byte) (n >>> 16);
        f[2] = (byte) (n >>> 8);
        f[3] = (byte) n;
        System.arraycopy(payload, 0, f, 4, n);
        return f;
    }

    /** The next request's payload, or null at end of stream. */
    private byte[] readRequest(InputStream in) throws IOException {
        if (framing == Framing.LINES) {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            for (;;) {
                int b = in.read();
                if (b < 0) {
                    if (line.size() == 0) {
                        return null;
                    }
                    throw new EOFException("end of stream mid-line");
                }
                if (b == '\n') {
                    return line.toByteArray();
                }
                line.write(b);
            }
        }
        byte[] header = in.readNBytes(4);
        if (header.length == 0) {
            return null;
        }
        if (header.length < 4) {
            throw new EOFException("end of stream mid-header");
        }
        int n = ((header[0] & 0xFF) << 24) | ((header[1] & 0xFF) << 16) | ((header[2] & 0xFF) << 8) | (header[3] & 0xFF);
        if (n < 0 || n > 1 << 20) {
            throw new IOException("request frame too large: " + n);
        }
        byte[] payload = in.readNBytes(n);
        if (payload.length < n) {
            throw new EOFException("end of stream mid-frame");
        }
        return payload;
    }
}
