package io.github.portkeeper.http.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * What the test proxies share of an HTTP {@code CONNECT} tunnel: reading the request, opening the
 * connection to its target, answering 200 and relaying bytes. How a tunnel ends (who closes what
 * when one side ends) stays each proxy's own.
 */
final class Tunnel {

    private static final byte[] ESTABLISHED = "HTTP/1.1 200 Connection established\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII);

    private Tunnel() {
    }

    /**
     * Reads a request head from {@code in} (nothing after it); its request line if it is a
     * {@code CONNECT}, null if it is another request or the stream ended before any byte.
     */
    static String readConnectLine(InputStream in) throws IOException {
        List<String> head = RequestHead.read(in);
        String requestLine = head.isEmpty() ? null : head.get(0);
        return requestLine != null && requestLine.startsWith("CONNECT ") ? requestLine : null;
    }

    /** Connects to the target {@code host:port} that the request line {@code CONNECT host:port HTTP/1.1} names. */
    static Socket openTarget(String connectLine) throws IOException {
        String authority = connectLine.split(" ")[1];
        int colon = authority.lastIndexOf(':');
        return new Socket(authority.substring(0, colon), Integer.parseInt(authority.substring(colon + 1)));
    }

    /** Tells the client that the tunnel is open: from here on, bytes are relayed as they are. */
    static void answerEstablished(OutputStream out) throws IOException {
        out.write(ESTABLISHED);
        out.flush();
    }

    /**
     * Copies from {@code from} to {@code to} until {@code from} ends (true) or either side fails
     * (false); closes nothing.
     */
    static boolean relay(InputStream from, Socket to) {
        byte[] buffer = new byte[8192];
        try {
            OutputStream out = to.getOutputStream();
            int n;
            while ((n = from.read(buffer)) >= 0) {
                out.write(buffer, 0, n);
                out.flush();
            }
            return true;
        } catch (IOException e) {
            return false; // one side is gone
        }
    }
}
