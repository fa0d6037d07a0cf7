package io.github.portkeeper.core.internal;

import java.nio.channels.SelectionKey;

/** Test access to a pool's watched connections, for tests outside this package. */
public final class WatchedEntries {

    private WatchedEntries() {
    }

    /**
     * Reports each of {@code engine}'s watched connections readable, as the watcher's selector does
     * (the pool's next housekeeping round looks at them), whatever the socket holds; returns how many.
     */
    public static int reportReadable(PoolEngine<?> engine) {
        int n = 0;
        for (EndpointPool<?> ep : engine.endpointPools()) {
            for (PooledEntry<?> e : ep.entries()) {
                if (e.state() == PooledEntry.WATCHED && e.watchKey instanceof SelectionKey key) {
                    ((IdleWatcher.Readable) key.attachment()).ready(key, System.nanoTime());
                    n++;
                }
            }
        }
        return n;
    }
}
