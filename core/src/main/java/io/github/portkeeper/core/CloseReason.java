package io.github.portkeeper.core;

/** Why the pool stopped using a connection. Reported to {@link PoolListener}s. */
public enum CloseReason {
    /** Idle longer than the pool's maximum idle time or the endpoint's learned idle timeout. */
    IDLE_TIMEOUT,
    /** Older than its maximum lifetime. */
    LIFETIME,
    /** It has served the maximum number of leases per connection. */
    LEASE_BUDGET,
    /**
     * The lease holder marked it broken; or a fresh connection that user code kept the pool from
     * using (the connect guard's {@code connectSucceeded}, or the connector's {@code channel},
     * threw right after the connect), reset at once having served no lease.
     */
    BROKEN,
    /** The lease holder asked for it to be retired. */
    RETIRED,
    /** The connector's validation hook rejected it. */
    VALIDATION_FAILED,
    /**
     * The peer closed it: while it was idle, or after answering a lease whose holder then read
     * the end of stream (a server that closes after its answer).
     */
    PEER_CLOSED,
    /** Bytes arrived while it was idle: the protocol stream is out of step. */
    UNEXPECTED_DATA,
    /**
     * Reset by the peer, or aborted by this host's kernel (a TCP keepalive or retransmission
     * timeout), while idle: an abort, not the server's idle close.
     */
    ABORTED,
    /** Closed to make room under the limits: for a connection to another endpoint, or for a new one asked for with {@code Pool.leaseNew}. */
    EVICTED,
    /** The pool was closed. */
    POOL_CLOSED
}
