package io.github.portkeeper.http.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Reads an HTTP request head for the test proxies, byte by byte so nothing after it is consumed. */
final class RequestHead {

    private RequestHead() {
    }

    /** The head's lines up to the blank line; empty at end of stream before any byte. */
    static List<String> read(InputStream in) throws IOException {
        List<String> lines = new ArrayList<>();
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0) {
            if (b == '\n') {
                String text = line.toString(StandardCharsets.US_ASCII).stripTrailing();
                line.reset();
                if (text.isEmpty()) {
                    return lines;
                }
                lines.add(text);
            } else {
                line.write(b);
            }
        }
        if (lines.isEmpty() && line.size() == 0) {
            return lines;
        }
        throw new SocketException("request head cut short: " + lines);
    }
}
