package io.github.portkeeper.rpc;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Optional;

/**
 * Turns requests into bytes and bytes into responses for {@link RpcClient}: the protocol, without
 * the sockets. A codec sees one exchange at a time; the client owns connections, timeouts,
 * failures and pooling.
 *
 * <pre>{@code
 * final class UpperCaseCodec implements RpcCodec<String, String> {
 *     public void encode(String request, OutputStream out) throws IOException {
 *         out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
 *     }
 *     public String decode(InputStream in) throws IOException {
 *         ... read exactly one line, at most maxFrameSize() bytes ...
 *     }
 *     public int maxFrameSize() { return 64 * 1024; }
 * }
 * }</pre>
 *
 * <h2>Rules</h2>
 * <ul>
 *   <li>{@link #decode} reads <em>exactly</em> one response: not a byte more (those belong to
 *       nobody, and the client fails the call when it sees them), not a byte less.</li>
 *   <li>Check lengths before allocating: refuse a declared length over {@link #maxFrameSize()}
 *       by throwing, so a 2 GB length prefix costs nothing. The client also stops any response
 *       at {@code maxFrameSize()} bytes, whatever the codec does.</li>
 *   <li>To reject a response, throw any exception with a message saying what was wrong; the
 *       client turns it into an {@link RpcProtocolException} naming the endpoint. End of stream,
 *       resets and timeouts are recognised by the client whatever the codec makes of them.</li>
 *   <li>Do not close the streams, and do not buffer ahead: the streams are already buffered.</li>
 *   <li>An error the protocol reports in band (Redis {@code -ERR}, a status code) is a
 *       response, not a failure: return it, the connection stays in step.</li>
 * </ul>
 *
 * <p>Implementations must be thread-safe (one codec serves every connection of a client);
 * stateless codecs are.
 *
 * @param <Req>  the request type
 * @param <Resp> the response type
 */
public interface RpcCodec<Req, Resp> {

    /**
     * Writes {@code request} to {@code out}, once per call (a retry sends the same bytes again).
     * It runs before a connection is taken; the bytes are sent in one write once one is. If it
     * throws, nothing is sent, and no connection is leased or opened for the call.
     *
     * @param request the request to encode
     * @param out     a buffer flushed by the client; do not close it
     * @throws IOException if the request cannot be encoded; the call fails and nothing is sent
     */
    void encode(Req request, OutputStream out) throws IOException;

    /**
     * Reads exactly one response from {@code in} (see the rules above).
     *
     * @param in the connection's buffered input, limited to {@link #maxFrameSize()} bytes; do not
     *           close it
     * @return the response. If a failure underneath the codec (the call's timeout, a reset, the
     *         {@link #maxFrameSize()} limit) hit a read, the call fails with it even if this
     *         returns normally, and the connection is discarded
     * @throws IOException if the bytes are not a valid response (the call fails with an
     *         {@link RpcProtocolException}) or the stream fails
     */
    Resp decode(InputStream in) throws IOException;

    /**
     * The most bytes one response may take on the wire, framing included. The client fails the
     * call with an {@link RpcProtocolException} and discards the connection when a response goes
     * past it, which bounds the memory a peer can make the client use.
     *
     * @return the limit in bytes, at least 1
     */
    int maxFrameSize();

    /**
     * The protocol's goodbye (Redis {@code QUIT}): a request that asks the peer to close the
     * connection. When present, connections retire by {@code REQUEST_PEER_CLOSE}: the goodbye is
     * encoded with {@link #encode} and sent on the idle connection, its reply (if any) is
     * discarded, and the peer's FIN ends the connection, leaving no TIME_WAIT on this host.
     * Default: none (connections retire by awaiting the peer's own close).
     *
     * @return the goodbye request, or empty if the protocol has none
     */
    default Optional<Req> goodbye() {
        return Optional.empty();
    }

    /**
     * Whether {@code request} may be sent twice without harm, for calls made without an explicit
     * {@link Idempotency}. Default {@code false}: nothing is retried unless marked idempotent.
     *
     * @param request the request about to be sent
     * @return {@code true} if a failed call of it may be retried
     */
    default boolean isIdempotent(Req request) {
        return false;
    }
}
