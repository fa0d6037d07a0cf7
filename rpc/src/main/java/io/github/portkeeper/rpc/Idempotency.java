package io.github.portkeeper.rpc;

/**
 * Whether a call may be sent twice without harm, for {@link RpcClient}'s retry. Only idempotent
 * calls are retried, and only when the failure was {@linkplain RpcException#isRetrySafe() retry
 * safe}. Without an explicit value the codec decides ({@link RpcCodec#isIdempotent}).
 */
public enum Idempotency {
    /** Sending it twice has the same effect as once (a read, a SET to a fixed value). */
    IDEMPOTENT,
    /** Sending it twice may have a different effect (an increment, an append). Never retried. */
    NOT_IDEMPOTENT
}
