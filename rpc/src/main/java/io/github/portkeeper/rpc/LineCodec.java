package io.github.portkeeper.rpc;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * UTF-8 text lines: a request is one line, its response is one line. Lines end with {@code \n};
 * a {@code \r} before it is dropped from responses. Requests and responses are {@code String}s
 * without the line end.
 *
 * <p>A response line longer than the maximum is refused as soon as the limit is passed, and a
 * response that is not valid UTF-8 is a protocol error (never silently replaced). Immutable and
 * thread-safe.
 */
public final class LineCodec implements RpcCodec<String, String> {

    private final int maxLineBytes;
    private final String goodbye;
    private final Predicate<String> idempotent;

    private LineCodec(int maxLineBytes, String goodbye, Predicate<String> idempotent) {
        this.maxLineBytes = maxLineBytes;
        this.goodbye = goodbye;
        this.idempotent = idempotent;
    }

    /**
     * Lines of at most {@code maxLineBytes} UTF-8 bytes (line end not counted), in either
     * direction; no goodbye, nothing idempotent.
     *
     * @param maxLineBytes the longest line in UTF-8 bytes; from 1 to {@code Integer.MAX_VALUE - 2}
     * @return the codec
     * @throws IllegalArgumentException if {@code maxLineBytes} is out of range:
     *         {@code "maxLineBytes must be between 1 and 2147483645, but was 0"}
     */
    public static LineCodec utf8(int maxLineBytes) {
        if (maxLineBytes < 1 || maxLineBytes > Integer.MAX_VALUE - 2) {
            throw new IllegalArgumentException("maxLineBytes must be between 1 and " + (Integer.MAX_VALUE - 2) + ", but was " + maxLineBytes);
        }
        return new LineCodec(maxLineBytes, null, r -> false);
    }

    /**
     * The same codec with a goodbye line (for example {@code "QUIT"}) that asks the peer to
     * close, so connections retire by {@code REQUEST_PEER_CLOSE}.
     *
     * @param goodbyeLine the line, without line end
     * @return a new codec; this one is unchanged
     * @throws IllegalArgumentException if the line holds a line break
     *         ({@code "goodbyeLine must be a single line without a line end, but holds a line break"})
     *         or is longer than the maximum
     *         ({@code "goodbyeLine must be at most maxLineBytes (8 bytes) in UTF-8, but was 9 bytes"})
     * @throws NullPointerException {@code "goodbyeLine"}, if it is {@code null}
     */
    public LineCodec withGoodbye(String goodbyeLine) {
        Objects.requireNonNull(goodbyeLine, "goodbyeLine");
        if (hasLineBreak(goodbyeLine)) {
            throw new IllegalArgumentException("goodbyeLine must be a single line without a line end, but holds a line break");
        }
        int length = goodbyeLine.getBytes(StandardCharsets.UTF_8).length;
        if (length > maxLineBytes) {
            throw new IllegalArgumentException("goodbyeLine must be at most maxLineBytes (" + maxLineBytes + " bytes) in UTF-8, but was "
                    + length + " bytes");
        }
        return new LineCodec(maxLineBytes, goodbyeLine, idempotent);
    }

    /**
     * The same codec, treating requests that match {@code predicate} as idempotent (retried on a
     * dead connection).
     *
     * @param predicate tells whether a request line may be sent twice; must be thread-safe
     * @return a new codec; this one is unchanged
     * @throws NullPointerException {@code "idempotentWhen"}, if {@code predicate} is {@code null}
     */
    public LineCodec idempotentWhen(Predicate<String> predicate) {
        return new LineCodec(maxLineBytes, goodbye, Objects.requireNonNull(predicate, "idempotentWhen"));
    }

    /**
     * The longest line accepted.
     *
     * @return the limit in UTF-8 bytes, line end not counted
     */
    public int maxLineBytes() {
        return maxLineBytes;
    }

    /** @throws IllegalArgumentException for a request holding a line break or longer than the maximum (nothing is sent) */
    @Override
    public void encode(String request, OutputStream out) throws IOException {
        byte[] bytes = checkRequest(request);
        out.write(bytes);
        out.write('\n');
    }

    @Override
    public String decode(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(Math.min(maxLineBytes, 256));
        for (;;) {
            int b = in.read();
            if (b < 0) {
                throw new EOFException("end of stream after " + line.size() + " bytes of a line");
            }
            if (b == '\n') {
                break;
            }
            if (line.size() > maxLineBytes) { // one extra byte allowed for a '\r' before '\n'
                throw new IOException("line exceeds " + maxLineBytes + " bytes");
            }
            line.write(b);
        }
        byte[] bytes = line.toByteArray();
        int n = bytes.length;
        if (n > 0 && bytes[n - 1] == '\r') {
            n--;
        }
        if (n > maxLineBytes) {
            throw new IOException("line exceeds " + maxLineBytes + " bytes");
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes, 0, n))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new IOException("response line is not valid UTF-8 (" + e + ")", e);
        }
    }

    /** {@link #maxLineBytes()} plus a {@code \r\n} line end. */
    @Override
    public int maxFrameSize() {
        return maxLineBytes + 2;
    }

    @Override
    public Optional<String> goodbye() {
        return Optional.ofNullable(goodbye);
    }

    @Override
    public boolean isIdempotent(String request) {
        return idempotent.test(request);
    }

    private static boolean hasLineBreak(String line) {
        return line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0;
    }

    private byte[] checkRequest(String request) {
        if (hasLineBreak(request)) {
            throw new IllegalArgumentException("request must be a single line, but holds a line break");
        }
        byte[] bytes = request.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > maxLineBytes) {
            throw new IllegalArgumentException("request of " + bytes.length + " bytes exceeds maxLineBytes " + maxLineBytes);
        }
        return bytes;
    }

    @Override
    public String toString() {
        return "LineCodec{maxLineBytes=" + maxLineBytes + (goodbye == null ? "" : ", goodbye=" + goodbye) + "}";
    }
}
