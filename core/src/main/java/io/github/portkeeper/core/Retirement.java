package io.github.portkeeper.core;

import java.time.Duration;
import java.util.Objects;

/**
 * How a connection the pool no longer wants leaves: its retirement policy. Connections retire
 * when they have been idle too long, outlived their lifetime or lease budget, failed
 * validation, were asked to by {@link Lease#retire()} or {@link Pool#retireIdle}, or made room
 * for a new connection; when the pool closes, they end by the fallback at once.
 *
 * <p>Only the side that sends the first FIN keeps a TIME_WAIT socket (60 s on Linux), so the
 * default, {@link #awaitPeer(Duration)}, stops leasing the connection and lets the server close
 * it. Immutable and safe to share.
 */
public final class Retirement {

    /** The retirement policies. */
    public enum Policy {
        /** Keep the connection open, unleased, and close it passively once the peer's FIN arrives. */
        AWAIT_PEER,
        /** Send the connector's protocol goodbye (HTTP {@code Connection: close}, Redis {@code QUIT}), then await the peer's FIN. */
        REQUEST_PEER_CLOSE,
        /** Close with RST (SO_LINGER 0): no TIME_WAIT anywhere; only for idle connections. */
        RESET,
        /** Close with a plain FIN: the TCP default, one TIME_WAIT on this host. */
        LOCAL
    }

    private static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);

    private final Policy policy;
    private final Duration drainTimeout;
    private final Ending fallback;

    private Retirement(Policy policy, Duration drainTimeout, Ending fallback) {
        this.policy = policy;
        this.drainTimeout = drainTimeout;
        this.fallback = fallback;
    }

    /**
     * Await the peer's FIN for at most {@code drainTimeout}, then close by the fallback
     * ({@link Ending#RESET} unless changed with {@link #withFallback}).
     *
     * @param drainTimeout how long to wait for the peer's FIN; positive. Set it above the
     *                     servers' idle timeout, so they close first. One longer than the
     *                     nanosecond clock holds (about 292 years) waits practically forever.
     * @return the policy
     * @throws IllegalArgumentException if {@code drainTimeout} is zero or negative
     */
    public static Retirement awaitPeer(Duration drainTimeout) {
        return new Retirement(Policy.AWAIT_PEER, checkDrainTimeout(drainTimeout), Ending.RESET);
    }

    /**
     * Ask the peer to close (the connector's goodbye), then await its FIN for at most
     * {@code drainTimeout}, then close by the fallback ({@link Ending#RESET} unless changed).
     * With a connector that has no goodbye, this acts as {@link #awaitPeer(Duration)}.
     *
     * @param drainTimeout how long to wait for the peer's FIN after the goodbye; positive; one
     *                     longer than the nanosecond clock holds (about 292 years) waits
     *                     practically forever
     * @return the policy
     * @throws IllegalArgumentException if {@code drainTimeout} is zero or negative
     */
    public static Retirement requestPeerClose(Duration drainTimeout) {
        return new Retirement(Policy.REQUEST_PEER_CLOSE, checkDrainTimeout(drainTimeout), Ending.RESET);
    }

    /**
     * Close retiring connections at once with RST: no TIME_WAIT anywhere, but the peer sees a
     * reset.
     *
     * @return the policy
     */
    public static Retirement reset() {
        return new Retirement(Policy.RESET, Duration.ZERO, Ending.RESET);
    }

    /**
     * Close retiring connections at once with FIN (each leaves a TIME_WAIT on this host).
     *
     * @return the policy
     */
    public static Retirement local() {
        return new Retirement(Policy.LOCAL, Duration.ZERO, Ending.LOCAL);
    }

    /**
     * The default: {@code awaitPeer(30 s)} with fallback {@link Ending#RESET}.
     *
     * @return the default policy
     */
    public static Retirement defaults() {
        return awaitPeer(DEFAULT_DRAIN_TIMEOUT);
    }

    /**
     * The same policy with another fallback for when the drain timeout passes: {@link Ending#RESET}
     * (no TIME_WAIT, the peer sees a reset) or {@link Ending#LOCAL} (a FIN, one TIME_WAIT here).
     *
     * @param fallback {@link Ending#RESET} or {@link Ending#LOCAL}
     * @return a new policy; this one is unchanged
     * @throws IllegalArgumentException if {@code fallback} is another ending, or this policy is
     *         {@code RESET} or {@code LOCAL} (which do not wait, so have no fallback)
     */
    public Retirement withFallback(Ending fallback) {
        Objects.requireNonNull(fallback, "fallback");
        if (fallback != Ending.RESET && fallback != Ending.LOCAL) {
            throw new IllegalArgumentException("retirement fallback must be RESET or LOCAL, but was " + fallback);
        }
        if (policy == Policy.RESET || policy == Policy.LOCAL) {
            throw new IllegalArgumentException("retirement fallback applies only to AWAIT_PEER and REQUEST_PEER_CLOSE, not " + policy);
        }
        return new Retirement(policy, drainTimeout, fallback);
    }

    /**
     * The policy.
     *
     * @return how retiring connections leave
     */
    public Policy policy() {
        return policy;
    }

    /**
     * How long a retiring connection waits for the peer's FIN before the fallback.
     *
     * @return a positive duration; zero for {@code RESET} and {@code LOCAL}
     */
    public Duration drainTimeout() {
        return drainTimeout;
    }

    /**
     * How a connection that drained in vain is closed (also how one is closed when the pool
     * closes, or when the goodbye cannot be sent).
     *
     * @return {@link Ending#RESET} or {@link Ending#LOCAL}
     */
    public Ending fallback() {
        return fallback;
    }

    private static Duration checkDrainTimeout(Duration drainTimeout) {
        Objects.requireNonNull(drainTimeout, "drainTimeout");
        if (drainTimeout.isNegative() || drainTimeout.isZero()) {
            throw new IllegalArgumentException("retirement drainTimeout must be positive, but was " + drainTimeout);
        }
        return drainTimeout;
    }

    @Override
    public String toString() {
        return policy == Policy.AWAIT_PEER || policy == Policy.REQUEST_PEER_CLOSE
                ? policy + "(drainTimeout=" + drainTimeout + ", fallback=" + fallback + ")"
                : policy.toString();
    }
}
