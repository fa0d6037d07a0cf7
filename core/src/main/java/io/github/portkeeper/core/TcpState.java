package io.github.portkeeper.core;

import java.util.Optional;

/**
 * The TCP states of the Linux kernel, with the hexadecimal codes that {@code /proc/net/tcp} and
 * {@code /proc/net/tcp6} print in their {@code st} column ({@code include/net/tcp_states.h}).
 *
 * <p>Only the side that sends the first FIN passes through {@link #TIME_WAIT}; a socket whose peer
 * closed first sits in {@link #CLOSE_WAIT} until the application closes it.
 *
 * <p>Thread-safety: an enum, immutable and safe to share.
 */
public enum TcpState {
    /** Connection open, data can flow both ways ({@code 01}). */
    ESTABLISHED(0x01),
    /** Client sent SYN, awaiting SYN-ACK ({@code 02}). */
    SYN_SENT(0x02),
    /** Server received SYN, sent SYN-ACK ({@code 03}). */
    SYN_RECV(0x03),
    /** We sent FIN first (active close), awaiting its ACK ({@code 04}). */
    FIN_WAIT1(0x04),
    /** Our FIN was acknowledged, awaiting the peer's FIN ({@code 05}). */
    FIN_WAIT2(0x05),
    /** Active closer's 60-second quarantine of the 4-tuple ({@code 06}). */
    TIME_WAIT(0x06),
    /** Closed; rarely visible in the table ({@code 07}). */
    CLOSE(0x07),
    /** The peer's FIN arrived; waiting for the application to close ({@code 08}). */
    CLOSE_WAIT(0x08),
    /** Passive closer sent its FIN, awaiting the final ACK ({@code 09}). */
    LAST_ACK(0x09),
    /** A listening server socket ({@code 0A}). */
    LISTEN(0x0A),
    /** Both sides sent FIN simultaneously ({@code 0B}). */
    CLOSING(0x0B),
    /** A request socket for a SYN received on a listener, Linux 4.4+ ({@code 0C}). */
    NEW_SYN_RECV(0x0C);

    // Indexed by code; codes are dense from 1, so a table beats a switch or a map.
    private static final TcpState[] BY_CODE = new TcpState[0x0D];

    static {
        for (TcpState state : values()) {
            BY_CODE[state.code] = state;
        }
    }

    private final int code;

    TcpState(int code) {
        this.code = code;
    }

    /**
     * Returns the kernel's numeric code of this state, as printed in hexadecimal in the
     * {@code st} column of {@code /proc/net/tcp}.
     *
     * @return the code, from {@code 0x01} to {@code 0x0C}
     */
    public int code() {
        return code;
    }

    /**
     * Returns the state with the given kernel code.
     *
     * @param code the numeric code, e.g. {@code 0x06} for {@link #TIME_WAIT}
     * @return the state, or an empty {@code Optional} for a code this enum does not know
     *     (a newer kernel may add states; callers should ignore them rather than fail)
     */
    public static Optional<TcpState> fromCode(int code) {
        return code >= 0 && code < BY_CODE.length
                ? Optional.ofNullable(BY_CODE[code])
                : Optional.empty();
    }
}
