package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.CloseReason;
import io.github.portkeeper.core.Connector;
import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.Retirement;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/**
 * Retirement and the close path. A connection the pool no longer wants leaves by the
 * configured {@link Retirement} policy ({@link #retire}); {@link #closeEntry} is the one place a
 * pooled connection's socket is closed and its ending recorded.
 */
final class Retirer<C> {

    private final PoolEngine<C> engine;
    private final Connector<C> connector;
    private final Retirement retirement;

    Retirer(PoolEngine<C> engine, Connector<C> connector, Retirement retirement) {
        this.engine = engine;
        this.connector = connector;
        this.retirement = retirement;
    }

    /**
     * Retires a connection the caller owns (claimed or leased) by the pool's retirement policy.
     * The connection stops counting against the limits at once. An {@link Error} from the
     * connector's goodbye is rethrown once the connection is closed.
     */
    void retire(PooledEntry<C> e, CloseReason reason) {
        engine.capacity.uncount(e);
        switch (retirement.policy()) {
            case RESET:
                closeEntry(e, true, reason);
                return;
            case LOCAL:
                closeEntry(e, false, reason);
                return;
            default:
                if (e.channel() == null || engine.isClosed()) {
                    closeEntry(e, retirement.fallback() == Ending.RESET, reason);
                    return;
                }
                if (retirement.policy() == Retirement.Policy.REQUEST_PEER_CLOSE && IdleWatcher.shared().onWatcherThread()) {
                    // The goodbye is the connector's code: never on the shared watcher's thread.
                    IdleWatcher.shared().offload(() -> retire(e, reason));
                    return;
                }
                boolean goodbyeSent = false;
                if (retirement.policy() == Retirement.Policy.REQUEST_PEER_CLOSE) {
                    Boolean sent = sayGoodbye(e, reason);
                    if (sent == null) {
                        closeEntry(e, retirement.fallback() == Ending.RESET, reason);
                        return;
                    }
                    goodbyeSent = sent;
                }
                engine.listeners.connectionRetiring(e.pool.endpoint, reason);
                // Only the server's own close teaches its idle timeout: not the FIN a goodbye asked for.
                engine.housekeeper.drain(e, reason, reason == CloseReason.IDLE_TIMEOUT && !goodbyeSent);
        }
    }

    /** A broken connection may have bytes in flight: it is closed at once, never drained. */
    void discardBroken(PooledEntry<C> e) {
        discard(e, CloseReason.BROKEN);
    }

    /** Closes a connection in an unknown protocol state at once (RST unless the policy is LOCAL). */
    void discard(PooledEntry<C> e, CloseReason reason) {
        engine.capacity.uncount(e);
        closeEntry(e, retirement.policy() != Retirement.Policy.LOCAL, reason);
    }

    /**
     * Whether a goodbye was sent ({@code false}: the protocol has none), or null if it failed.
     * An {@link Error} from the goodbye (the user's code) closes the connection as a failed
     * goodbye does, then surfaces unchanged: the connection already stopped counting, so nothing
     * else would ever close it.
     */
    private Boolean sayGoodbye(PooledEntry<C> e, CloseReason reason) {
        try {
            return connector.requestPeerClose(e.connection);
        } catch (IOException | RuntimeException ex) {
            return null;
        } catch (Error bug) {
            closeEntry(e, retirement.fallback() == Ending.RESET, reason);
            throw bug;
        }
    }

    /** The one place a pooled connection is closed. The caller owns {@code e}. */
    Ending closeEntry(PooledEntry<C> e, boolean reset, CloseReason reason) {
        engine.capacity.uncount(e);
        SocketChannel channel = e.channel();
        Ending ending;
        if (e.aborted) {
            SocketCloser.abort(channel);
            ending = Ending.RESET;
        } else if (reason == CloseReason.ABORTED) {
            SocketCloser.closeAborted(channel); // the peer reset it (or the kernel aborted it)
            ending = Ending.ABORTED;
        } else if (channel == null && !connector.wasEstablished(e.connection)) {
            ending = Ending.FAILED;
        } else if (channel != null && !channel.isOpen()) {
            // Closed behind the pool's back: the JDK closes an interrupted blocking channel. Held
            // with SO_LINGER 0, that close was an RST; otherwise a plain FIN, cautiously LOCAL.
            ending = e.heldForAbort ? Ending.RESET
                    : connector.wasEstablished(e.connection) ? Ending.LOCAL : Ending.FAILED;
        } else if (channel == null) {
            ending = connector.endingWithoutChannel(e.connection);
        } else {
            ending = SocketCloser.close(channel, reset);
            if (ending == Ending.PEER && e.lostUnderCall) {
                // The reset the holder's call reported cleared the socket's error; the end of
                // stream found now is what is left of it, not the peer's FIN.
                ending = Ending.ABORTED;
            }
        }
        IdleWatcher.shared().offload(() -> {
            try {
                connector.dispose(e.connection);
            } catch (RuntimeException ignored) {
                // The socket is closed; a failing dispose must not stop the accounting.
            }
        });
        e.claim2dead();
        e.pool.ports.closed(ending == Ending.LOCAL, engine.now());
        e.pool.remove(e);
        engine.listeners.connectionClosed(e.pool.endpoint, ending, reason, e.leaseCount > 0);
        engine.mayBeEmpty(e.pool);
        return ending;
    }
}
