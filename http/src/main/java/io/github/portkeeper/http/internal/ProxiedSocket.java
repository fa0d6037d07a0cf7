package io.github.portkeeper.http.internal;

import java.net.Proxy;
import java.net.Socket;
import java.net.SocketException;

/**
 * A plain socket through a SOCKS proxy, held with SO_LINGER 0 until the connection is connected,
 * as the factory's channel sockets are ({@link ChannelSocket}). The JDK does the SOCKS handshake
 * inside {@code connect}, and when the proxy refuses the request it closes the socket itself,
 * before HttpClient or the pool can: with the default linger that close is a FIN (a client
 * TIME_WAIT toward the proxy for a connect recorded FAILED, which the pool does not count); held
 * at 0 it is an RST. The linger HttpClient's {@code SocketConfig} asks for meanwhile is applied
 * once connected ({@link #applyRequestedLinger}). Used by one connecting thread, then by the
 * connection's holder.
 */
final class ProxiedSocket extends Socket {

    /** Whether SO_LINGER stays 0 whatever HttpClient sets, until {@link #applyRequestedLinger}. */
    private volatile boolean holdingLingerZero = true;
    /** The linger HttpClient asked for while it was held (seconds; negative: off), or null if none. */
    private Integer requestedLinger;
    /** Whether SO_LINGER is 0 now: a close is an RST. Volatile: the pool's close path reads it. */
    private volatile boolean lingerZero = true;

    ProxiedSocket(Proxy proxy) throws SocketException {
        super(proxy);
        super.setSoLinger(true, 0);
    }

    /** Ends the hold on SO_LINGER 0 and applies the linger HttpClient asked for meanwhile, if any. */
    void applyRequestedLinger() throws SocketException {
        if (!holdingLingerZero) {
            return;
        }
        holdingLingerZero = false;
        Integer linger = requestedLinger;
        requestedLinger = null;
        if (linger != null) {
            setSoLinger(linger >= 0, Math.max(linger, 0));
        }
        // else SO_LINGER 0 stays, as on the channel sockets: a close HttpClient makes itself (an
        // exchange that failed) is an RST, no TIME_WAIT; the pool's own closes choose their ending.
    }

    /** Whether a close of this socket by HttpClient (not by the pool) is an RST: SO_LINGER 0. */
    boolean closesWithReset() {
        return lingerZero;
    }

    /** While SO_LINGER 0 is held, notes the linger for later. */
    @Override
    public void setSoLinger(boolean on, int linger) throws SocketException {
        if (holdingLingerZero) {
            if (on && linger < 0) {
                throw new IllegalArgumentException("invalid value for SO_LINGER");
            }
            if (isClosed()) {
                throw new SocketException("Socket is closed");
            }
            requestedLinger = on ? linger : -1;
            return;
        }
        super.setSoLinger(on, linger);
        lingerZero = on && linger == 0;
    }
}
