package io.github.portkeeper.rpc.testing;

import io.github.portkeeper.rpc.RpcCodec;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * A small RESP2 codec, as a user would write one: commands go out as arrays of bulk strings;
 * simple strings, errors, integers, bulk strings and arrays come back (as {@code String},
 * {@link RespError}, {@code Long}, {@code String} or {@code null}, {@code List}). Lengths are
 * checked before anything is allocated. Its goodbye is {@code QUIT}.
 */
public final class RespCodec implements RpcCodec<List<String>, Object> {

    /** An error reply ({@code -ERR ...}): a response, not a failure; the connection stays in step. */
    public record RespError(String message) {
    }

    private static final int MAX_BULK = 1 << 20;
    private static final int MAX_LINE = 64 * 1024;
    private static final int MAX_ELEMENTS = 1024;
    private static final int MAX_DEPTH = 4;
    private static final Set<String> IDEMPOTENT = Set.of("GET", "PING", "INFO", "EXISTS", "STRLEN", "TTL", "SET");

    @Override
    public void encode(List<String> command, OutputStream out) throws IOException {
        out.write(('*' + Integer.toString(command.size()) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        for (String arg : command) {
            byte[] bytes = arg.getBytes(StandardCharsets.UTF_8);
            out.write(('$' + Integer.toString(bytes.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.write('\r');
            out.write('\n');
        }
    }

    @Override
    public Object decode(InputStream in) throws IOException {
        return decode(in, 0);
    }

    private Object decode(InputStream in, int depth) throws IOException {
        int type = in.read();
        if (type < 0) {
            throw new EOFException("end of stream before a reply");
        }
        String line = readLine(in);
        switch (type) {
            case '+':
                return line;
            case '-':
                return new RespError(line);
            case ':':
                return parseLong(line);
            case '$': {
                long n = parseLong(line);
                if (n == -1) {
                    return null;
                }
                if (n < 0 || n > MAX_BULK) {
                    throw new IOException("bulk string length " + n + " out of range (max " + MAX_BULK + ")");
                }
                byte[] bytes = in.readNBytes((int) n);
                if (bytes.length < n || in.read() != '\r' || in.read() != '\n') {
                    throw new EOFException("bulk string cut short");
                }
                return new String(bytes, StandardCharsets.UTF_8);
            }
            case '*': {
                long n = parseLong(line);
                if (n == -1) {
                    return null;
                }
                if (n < 0 || n > MAX_ELEMENTS || depth >= MAX_DEPTH) {
                    throw new IOException("array of " + n + " elements at depth " + depth + " out of range");
                }
                List<Object> elements = new ArrayList<>((int) n);
                for (int i = 0; i < n; i++) {
                    elements.add(decode(in, depth + 1));
                }
                return elements;
            }
            default:
                throw new IOException("unknown RESP type byte 0x" + Integer.toHexString(type));
        }
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (;;) {
            int b = in.read();
            if (b < 0) {
                throw new EOFException("end of stream mid-line");
            }
            if (b == '\r') {
                if (in.read() != '\n') {
                    throw new IOException("CR not followed by LF");
                }
                return line.toString(StandardCharsets.UTF_8);
            }
            if (line.size() >= MAX_LINE) {
                throw new IOException("line longer than " + MAX_LINE + " bytes");
            }
            line.write(b);
        }
    }

    private static long parseLong(String s) throws IOException {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new IOException("not a number: '" + s + "'", e);
        }
    }

    @Override
    public int maxFrameSize() {
        return MAX_BULK + MAX_LINE;
    }

    @Override
    public Optional<List<String>> goodbye() {
        return Optional.of(List.of("QUIT"));
    }

    @Override
    public boolean isIdempotent(List<String> command) {
        return !command.isEmpty() && IDEMPOTENT.contains(command.get(0).toUpperCase(Locale.ROOT));
    }
}
