package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Ending;
import io.github.portkeeper.core.Retirement;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Sockets the {@link IdleWatcher} drains for code that is not a pool ({@link IdleWatcher#drain}):
 * each waits for the peer's FIN until its drain timeout, then gets the fallback. The task's
 * deadline is the earliest drain timeout.
 */
final class ForeignDrains extends IdleWatcher.Task {

    /** Bytes discarded per socket at most; past it the socket is closed by the fallback. */
    private static final long DISCARD_LIMIT = 1 << 20;

    private final IdleWatcher watcher;
    private final Set<Drain> draining = ConcurrentHashMap.newKeySet();

    ForeignDrains(IdleWatcher watcher) {
        this.watcher = watcher;
    }

    void start(SocketChannel channel, Retirement retirement, Consumer<IdleWatcher.Drained> onEnd) {
        Retirement.Policy policy = retirement.policy();
        boolean awaits = policy == Retirement.Policy.AWAIT_PEER || policy == Retirement.Policy.REQUEST_PEER_CLOSE;
        boolean resetFallback = retirement.fallback() == Ending.RESET;
        if (!awaits) {
            tell(onEnd, new IdleWatcher.Drained(SocketCloser.close(channel, policy == Retirement.Policy.RESET), 0));
            return;
        }
        if (watcher.foreignCount().incrementAndGet() > IdleWatcher.MAX_FOREIGN_DRAINS) {
            watcher.foreignCount().decrementAndGet();
            tell(onEnd, new IdleWatcher.Drained(SocketCloser.close(channel, resetFallback), 0));
            return;
        }
        // A drain timeout past the nanosecond clock's range waits practically forever, never wraps into the past.
        long deadline = Nanos.plus(System.nanoTime(), Nanos.saturated(retirement.drainTimeout()));
        Drain d = new Drain(channel, deadline, resetFallback, onEnd);
        try {
            channel.configureBlocking(false);
            if (d.readAll()) {
                return; // the FIN (or a reset) was already there
            }
            draining.add(d);
            d.key = watcher.watch(channel, d);
            watcher.schedule(this, d.deadline);
        } catch (IOException | RuntimeException e) {
            d.end(SocketCloser.close(channel, resetFallback));
        }
    }

    @Override
    protected long run(long now) {
        long next = IdleWatcher.NEVER;
        for (Drain d : draining) {
            if (d.deadline - now <= 0) {
                d.end(d.closeByFallback());
            } else if (d.deadline < next) {
                next = d.deadline;
            }
        }
        return next;
    }

    private void tell(Consumer<IdleWatcher.Drained> onEnd, IdleWatcher.Drained drained) {
        watcher.runOnWorker(() -> onEnd.accept(drained));
    }

    /** One socket being drained. Its fields are touched by the watcher's thread only, after start. */
    private final class Drain implements IdleWatcher.Readable {

        final SocketChannel channel;
        final long deadline;
        final boolean resetFallback;
        final Consumer<IdleWatcher.Drained> onEnd;
        volatile SelectionKey key;
        long discarded;
        private boolean ended;

        Drain(SocketChannel channel, long deadline, boolean resetFallback, Consumer<IdleWatcher.Drained> onEnd) {
            this.channel = channel;
            this.deadline = deadline;
            this.resetFallback = resetFallback;
            this.onEnd = onEnd;
        }

        @Override
        public void ready(SelectionKey k, long now) {
            readAll();
        }

        /** Reads what is there, discarding it; ends the drain on a FIN or a reset. Returns whether it ended. */
        synchronized boolean readAll() {
            if (ended) {
                return true;
            }
            ByteBuffer scratch = ByteBuffer.allocate(2048);
            try {
                for (;;) {
                    scratch.clear();
                    int n = channel.read(scratch);
                    if (n < 0) {
                        end(closeAfterFin());
                        return true;
                    }
                    if (n == 0) {
                        return false;
                    }
                    discarded += n;
                    if (discarded > DISCARD_LIMIT) {
                        end(closeByFallback());
                        return true;
                    }
                }
            } catch (IOException e) {
                // Reset by the peer (or aborted by this host's kernel): nothing left to close cleanly.
                deregister();
                SocketCloser.closeAborted(channel);
                end(Ending.ABORTED);
                return true;
            }
        }

        private Ending closeAfterFin() {
            deregister();
            return SocketCloser.close(channel, false);
        }

        synchronized Ending closeByFallback() {
            if (ended) {
                return null;
            }
            deregister();
            return SocketCloser.close(channel, resetFallback);
        }

        /** Off the selector first, so the close below takes effect at once (not at the next select). */
        private void deregister() {
            SelectionKey k = key;
            if (k != null) {
                try {
                    watcher.unwatch(k);
                } catch (IOException | RuntimeException ignored) {
                    // Closing anyway.
                }
            }
        }

        synchronized void end(Ending ending) {
            if (ended || ending == null) {
                return;
            }
            ended = true;
            draining.remove(this);
            watcher.foreignCount().decrementAndGet();
            tell(onEnd, new IdleWatcher.Drained(ending, discarded));
        }
    }
}
