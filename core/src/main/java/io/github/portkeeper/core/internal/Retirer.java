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
     * The connection stops counting against the limits at once; under a policy that awaits the
     * peer it is RETIRING (counted draining) while its goodbye runs, then DRAINING. An
     * {@link Error} from the connector's goodbye is rethrown once the connection is closed.
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
                // Retiring from here on, and counted draining: no lease holds it, it no longer
                // counts against the limits, and the goodbye below may wait on the server. Still
                // ours until drain() hands it to the housekeeper, which leaves it alone meanwhile.
                e.claim2retiring();
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
        return closeEntry(e, reset, reason, true, e.leaseCount > 0);
    }

    /**
     * {@link #closeEntry(PooledEntry, boolean, CloseReason)} for a connection that may never have
     * opened: one whose connector connects on first use ({@link LeaseHandle.ConnectsOnFirstUse})
     * and whose holder's connect failed or was abandoned. Listeners heard of that as a failed
     * connect or a rejected lease, so its close is reported only if it {@code opened}, or if it
     * left a TIME_WAIT here (an {@link Ending#LOCAL}, which {@code timewait.caused} must count).
     * {@code served}: whether it served a lease, for the listeners.
     */
    Ending closeEntry(PooledEntry<C> e, boolean reset, CloseReason reason, boolean opened, boolean served) {
        engine.capacity.uncount(e);
        Ending ending;
        Throwable bug = null;
        // Before the socket closes: a reset leaves the kernel's table at once, and a read of it
        // before the accounting below must not see the socket gone twice.
        long ticket = e.pool.ports.closing();
        try {
            ending = closeSocket(e, reset, reason);
        } catch (RuntimeException | Error userCode) {
            // The connector's channel, wasEstablished or endingWithoutChannel threw: its code, run
            // before the accounting, which must complete whatever it does. Unable to see how the
            // connection ended, the pool records the cautious LOCAL (it may count a TIME_WAIT
            // nobody has, never miss one); dispose below still releases the connection.
            bug = userCode;
            ending = Ending.LOCAL;
        }
        IdleWatcher.shared().offload(() -> {
            try {
                connector.dispose(e.connection);
            } catch (RuntimeException | Error disposeBug) {
                // The socket is closed; a failing dispose (its code, an Error included) must not
                // stop the accounting below, nor a pool's close of its other connections.
                logDisposeFailure(disposeBug);
            }
        });
        e.claim2dead();
        e.pool.ports.closed(ending, engine.now(), ticket);
        e.pool.remove(e);
        if (opened || ending == Ending.LOCAL) {
            engine.listeners.connectionClosed(e.pool.endpoint, ending, reason, served);
        }
        engine.mayBeEmpty(e.pool);
        if (bug != null) {
            logConnectorFailure(bug);
        }
        return ending;
    }

    /** Closes {@code e}'s socket, if the pool has one, and decides how the connection ended. */
    private Ending closeSocket(PooledEntry<C> e, boolean reset, CloseReason reason) {
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
        return ending;
    }

    /**
     * Logs what the connector threw while its connection was being closed, and goes on: the close
     * runs on any thread (a lease's release, the shared idle watcher, the pool's close, which
     * closes every connection in turn), and none of them may stop halfway for one connection.
     */
    private static void logDisposeFailure(Throwable bug) {
        try {
            System.getLogger("io.github.portkeeper.core.Pool").log(
                    bug instanceof Error ? System.Logger.Level.ERROR : System.Logger.Level.WARNING,
                    "The connector's dispose threw after the pool closed the connection's socket; ignored", bug);
        } catch (RuntimeException | Error logging) {
            // a logger that fails must not fail the close
        }
    }

    private static void logConnectorFailure(Throwable bug) {
        try {
            System.getLogger("io.github.portkeeper.core.Pool").log(
                    bug instanceof Error ? System.Logger.Level.ERROR : System.Logger.Level.WARNING,
                    "The connector threw while the pool closed one of its connections; recorded LOCAL", bug);
        } catch (RuntimeException | Error logging) {
            // a logger that fails must not fail the close
        }
    }
}
