/**
 * Pooled request/response clients over TCP whose connections let the server close first:
 * {@link io.github.portkeeper.rpc.RpcClient} with a pluggable {@link io.github.portkeeper.rpc.RpcCodec}
 * (built in: {@link io.github.portkeeper.rpc.LengthPrefixedCodec},
 * {@link io.github.portkeeper.rpc.LineCodec}), and {@link io.github.portkeeper.rpc.SocketClientPool}
 * for pooling an existing blocking client built around a socket. Failures are
 * {@link io.github.portkeeper.rpc.RpcException}s. See {@code docs/rpc.md}.
 */
package io.github.portkeeper.rpc;
