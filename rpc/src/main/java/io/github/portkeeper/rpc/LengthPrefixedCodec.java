package io.github.portkeeper.rpc;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Length-prefixed frames: a 4-byte big-endian unsigned length, then that many payload bytes, in
 * both directions. Requests and responses are {@code byte[]} payloads.
 *
 * <pre>{@code
 * RpcClient<byte[], byte[]> client = RpcClient.builder(LengthPrefixedCodec.withMaxPayload(1 << 20)).build();
 * byte[] reply = client.call(Endpoint.of("svc", 7000), payload, Duration.ofSeconds(2));
 * }</pre>
 *
 * <p>A response whose length prefix exceeds the maximum payload is refused as soon as the prefix
 * is read, before anything is allocated: a prefix of 2 GB costs four bytes of reading. Immutable
 * and thread-safe.
 */
public final class LengthPrefixedCodec implements RpcCodec<byte[], byte[]> {

    /** Bytes of the length prefix. */
    public static final int HEADER_BYTES = 4;

    private final int maxPayload;
    private final byte[] goodbye;
    private final Predicate<byte[]> idempotent;

    private LengthPrefixedCodec(int maxPayload, byte[] goodbye, Predicate<byte[]> idempotent) {
        this.maxPayload = maxPayload;
        this.goodbye = goodbye;
        this.idempotent = idempotent;
    }

    /**
     * Frames whose payload is at most {@code maxPayloadBytes} long, in either direction; no
     * goodbye, nothing idempotent.
     *
     * @param maxPayloadBytes the longest payload, header not counted; from 1 to
     *                        {@code Integer.MAX_VALUE - 4} (a limit of 0 would allow only empty
     *                        frames, which is almost surely a mistake)
     * @return the codec
     * @throws IllegalArgumentException if {@code maxPayloadBytes} is out of range:
     *         {@code "maxPayloadBytes must be between 1 and 2147483643, but was 0"}
     */
    public static LengthPrefixedCodec withMaxPayload(int maxPayloadBytes) {
        if (maxPayloadBytes < 1 || maxPayloadBytes > Integer.MAX_VALUE - HEADER_BYTES) {
            throw new IllegalArgumentException("maxPayloadBytes must be between 1 and " + (Integer.MAX_VALUE - HEADER_BYTES)
                    + ", but was " + maxPayloadBytes);
        }
        return new LengthPrefixedCodec(maxPayloadBytes, null, r -> false);
    }

    /**
     * The same codec with a goodbye payload: sent, framed, to ask the peer to close a retiring
     * connection, so connections retire by {@code REQUEST_PEER_CLOSE}.
     *
     * @param goodbyePayload the payload the server takes as "close this connection"; copied
     * @return a new codec; this one is unchanged
     * @throws IllegalArgumentException if the payload is longer than {@link #maxPayload()}:
     *         {@code "goodbyePayload must be at most maxPayload (4 bytes), but was 5 bytes"}
     * @throws NullPointerException {@code "goodbyePayload"}, if it is {@code null}
     */
    public LengthPrefixedCodec withGoodbye(byte[] goodbyePayload) {
        Objects.requireNonNull(goodbyePayload, "goodbyePayload");
        if (goodbyePayload.length > maxPayload) {
            throw new IllegalArgumentException("goodbyePayload must be at most maxPayload (" + maxPayload + " bytes), but was "
                    + goodbyePayload.length + " bytes");
        }
        return new LengthPrefixedCodec(maxPayload, goodbyePayload.clone(), idempotent);
    }

    /**
     * The same codec, treating requests that match {@code predicate} as idempotent (retried on a
     * dead connection).
     *
     * @param predicate tells whether a request payload may be sent twice; must be thread-safe
     * @return a new codec; this one is unchanged
     * @throws NullPointerException {@code "idempotentWhen"}, if {@code predicate} is {@code null}
     */
    public LengthPrefixedCodec idempotentWhen(Predicate<byte[]> predicate) {
        return new LengthPrefixedCodec(maxPayload, goodbye, Objects.requireNonNull(predicate, "idempotentWhen"));
    }

    /**
     * The largest payload accepted in either direction.
     *
     * @return the limit in bytes, length prefix not counted
     */
    public int maxPayload() {
        return maxPayload;
    }

    /** @throws IllegalArgumentException if the payload is longer than {@link #maxPayload()} (nothing is sent) */
    @Override
    public void encode(byte[] request, OutputStream out) throws IOException {
        if (request.length > maxPayload) {
            throw new IllegalArgumentException("request payload of " + request.length + " bytes exceeds the maximum payload of "
                    + maxPayload + " bytes");
        }
        int n = request.length;
        out.write(new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n});
        out.write(request);
    }

    @Override
    public byte[] decode(InputStream in) throws IOException {
        long length = 0;
        for (int i = 0; i < HEADER_BYTES; i++) {
            int b = in.read();
            if (b < 0) {
                throw new EOFException("end of stream after " + i + " of " + HEADER_BYTES + " length prefix bytes");
            }
            length = (length << 8) | b;
        }
        if (length > maxPayload) {
            throw new IOException("frame length " + length + " exceeds the maximum payload of " + maxPayload
                    + " bytes; refused before reading it");
        }
        byte[] payload = in.readNBytes((int) length);
        if (payload.length < length) {
            throw new EOFException("end of stream after " + payload.length + " of " + length + " payload bytes");
        }
        return payload;
    }

    /** {@link #maxPayload()} plus the length prefix. */
    @Override
    public int maxFrameSize() {
        return maxPayload + HEADER_BYTES;
    }

    @Override
    public Optional<byte[]> goodbye() {
        return goodbye == null ? Optional.empty() : Optional.of(goodbye.clone());
    }

    @Override
    public boolean isIdempotent(byte[] request) {
        return idempotent.test(request);
    }

    @Override
    public String toString() {
        return "LengthPrefixedCodec{maxPayload=" + maxPayload + (goodbye == null ? "" : ", goodbye=" + Arrays.toString(goodbye)) + "}";
    }
}
