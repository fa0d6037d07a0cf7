package io.github.portkeeper.cli.lab;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How services run out of ports: a new TCP connection per request. It asks for keep-alive like any HTTP/1.1
 * client, reads the whole response, then closes the socket itself, first, so every request leaves
 * a TIME_WAIT socket on this host for 60 s.
 */
final class NaiveClient implements LabClient {

    private static final int TIMEOUT_MILLIS = 10_000;
    private static final int MAX_HEAD_BYTES = 64 * 1024;

    private final InetSocketAddress address;
    private final byte[] request;
    private final AtomicLong connected = new AtomicLong();
    private final AtomicLong closedByServer = new AtomicLong();
    private final AtomicLong closedHere = new AtomicLong();
    private final AtomicLong reset = new AtomicLong();

    NaiveClient(InetSocketAddress address, String hostHeader, String path) {
        this.address = address;
        this.request = ("GET " + path + " HTTP/1.1\r\n"
                + "Host: " + hostHeader + "\r\n"
                + "User-Agent: portkeeper-lab\r\n"
                + "Accept: */*\r\n"
                + "Connection: keep-alive\r\n"
                + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** Connections established so far (one per request that got as far as connecting). */
    long connectionsOpened() {
        return connected.get();
    }

    /**
     * Connections the server closed first: its FIN had arrived ({@code read() == -1}) before the
     * client closed, so the close here was passive. The server announced it ({@code Connection:
     * close}, HTTP/1.0) or simply closed. Never with the embedded server.
     */
    long closedByServer() {
        return closedByServer.get();
    }

    /**
     * Connections closed here first, with a FIN and no FIN from the server seen yet: each one a
     * TIME_WAIT on this host.
     */
    long closedHere() {
        return closedHere.get();
    }

    /**
     * Connections that ended in a reset: the server reset them ({@code ECONNRESET}, {@code EPIPE}),
     * or the client closed with bytes it had not read, which makes the kernel send RST instead of FIN.
     * No TIME_WAIT on either side.
     */
    long reset() {
        return reset.get();
    }

    @Override
    public void get() throws IOException {
        Socket s = new Socket();
        Watched in = null;
        boolean resetSeen = false;
        try {
            s.setTcpNoDelay(true);
            s.setSoTimeout(TIMEOUT_MILLIS);
            s.connect(address, TIMEOUT_MILLIS);
            connected.incrementAndGet();
            in = new Watched(s.getInputStream());
            s.getOutputStream().write(request);
            InputStream buffered = new BufferedInputStream(in, 4096);
            Response response = readResponse(buffered);
            if (response.serverCloses()) {
                // The server said it would close: wait for its FIN, so that the close here is passive.
                buffered.transferTo(java.io.OutputStream.nullOutputStream());
            }
            if (response.status() >= 400) {
                throw new HttpStatusException(response.status());
            }
        } catch (SocketException e) {
            resetSeen = isReset(e);
            throw e;
        } finally {
            if (in != null) {
                countEnding(s, in, resetSeen);
            }
            s.close(); // without the server's FIN first: a FIN from here, a TIME_WAIT here
        }
    }

    /** How the connection is about to end, counted before {@code s} is closed. */
    private void countEnding(Socket s, Watched in, boolean resetSeen) {
        if (resetSeen || in.resetSeen) {
            reset.incrementAndGet();
        } else if (in.endSeen) {
            closedByServer.incrementAndGet();
        } else if (unreadBytes(s)) {
            reset.incrementAndGet();
        } else {
            closedHere.incrementAndGet();
        }
    }

    private static boolean unreadBytes(Socket s) {
        try {
            return s.getInputStream().available() > 0;
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean isReset(SocketException e) {
        String m = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
        return m.contains("connection reset") || m.contains("broken pipe");
    }

    /** The socket's input, noting whether a read saw the server's FIN or a reset. */
    private static final class Watched extends FilterInputStream {
        boolean endSeen;
        boolean resetSeen;

        Watched(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                int b = super.read();
                endSeen |= b == -1;
                return b;
            } catch (SocketException e) {
                resetSeen |= isReset(e);
                throw e;
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                int n = super.read(b, off, len);
                endSeen |= n == -1;
                return n;
            } catch (SocketException e) {
                resetSeen |= isReset(e);
                throw e;
            }
        }
    }

    @Override
    public void close() {
        // nothing pooled, nothing to close
    }

    /**
     * A response's status, and whether the server will close the connection after it
     * ({@code Connection: close}, or HTTP/1.0 without keep-alive, or a body ended by the close).
     */
    record Response(int status, boolean serverCloses) {
    }

    /** Reads one response (by Content-Length, chunked, or to end of stream). */
    static Response readResponse(InputStream in) throws IOException {
        String statusLine = readLine(in);
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
            throw new IOException("not an HTTP response: '" + statusLine + "'");
        }
        int status;
        try {
            status = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            throw new IOException("bad status line: '" + statusLine + "'");
        }
        long length = -1;
        boolean chunked = false;
        boolean close = parts[0].equals("HTTP/1.0");
        int headBytes = statusLine.length();
        for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
            headBytes += line.length();
            if (headBytes > MAX_HEAD_BYTES) {
                throw new IOException("response head longer than " + MAX_HEAD_BYTES + " bytes");
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                continue;
            }
            String name = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).trim();
            if (name.equals("content-length")) {
                length = Long.parseLong(value);
            } else if (name.equals("transfer-encoding") && value.toLowerCase(Locale.ROOT).contains("chunked")) {
                chunked = true;
            } else if (name.equals("connection")) {
                String v = value.toLowerCase(Locale.ROOT);
                close = v.contains("close") || (close && !v.contains("keep-alive"));
            }
        }
        if (status / 100 == 1 || status == 204 || status == 304) {
            return new Response(status, close); // no body
        }
        if (chunked) {
            while (true) {
                String size = readLine(in);
                int semi = size.indexOf(';');
                long n = Long.parseLong((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
                if (n == 0) {
                    while (!readLine(in).isEmpty()) {
                        // trailers
                    }
                    break;
                }
                in.skipNBytes(n);
                readLine(in);
            }
        } else if (length >= 0) {
            in.skipNBytes(length);
        } else {
            in.transferTo(java.io.OutputStream.nullOutputStream()); // no length: the body ends when the server closes
            close = true;
        }
        return new Response(status, close);
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        while (true) {
            int b = in.read();
            if (b == -1) {
                throw new IOException("connection closed inside a response head");
            }
            if (b == '\n') {
                int len = sb.length();
                if (len > 0 && sb.charAt(len - 1) == '\r') {
                    sb.setLength(len - 1);
                }
                return sb.toString();
            }
            if (sb.length() > MAX_HEAD_BYTES) {
                throw new IOException("response line longer than " + MAX_HEAD_BYTES + " bytes");
            }
            sb.append((char) b);
        }
    }
}
