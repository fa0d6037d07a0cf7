package io.github.portkeeper.spring.boot.common;

import io.github.portkeeper.core.Pool;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The Portkeeper pools of an application context: the HTTP pool, the pools added for SSL
 * bundles, the socket pool. The meter binding and the health indicator report every pool
 * registered here, including pools registered after they started (a pool for an SSL bundle is
 * created when the first client using the bundle is built).
 *
 * <p>Registering a pool does not transfer its ownership: whoever created it closes it.
 * Thread-safe.
 */
public final class PortkeeperPools {

    private final Set<Pool<?>> pools = Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<Pool<?>> ordered = new ArrayList<>();
    private final List<Consumer<Pool<?>>> listeners = new ArrayList<>();

    /** An empty registry. */
    public PortkeeperPools() {
    }

    /**
     * Adds {@code pool} (again: no effect) and tells the listeners.
     *
     * @param pool the pool to report
     */
    public void register(Pool<?> pool) {
        Objects.requireNonNull(pool, "pool");
        List<Consumer<Pool<?>>> toCall;
        synchronized (this) {
            if (!pools.add(pool)) {
                return;
            }
            ordered.add(pool);
            toCall = List.copyOf(listeners);
        }
        toCall.forEach(l -> l.accept(pool));
    }

    /**
     * The registered pools.
     *
     * @return the pools, in registration order
     */
    public synchronized List<Pool<?>> pools() {
        return List.copyOf(ordered);
    }

    /**
     * Calls {@code listener} for every pool registered so far and every pool registered later.
     *
     * @param listener called once per pool
     */
    public void forEachPool(Consumer<Pool<?>> listener) {
        Objects.requireNonNull(listener, "listener");
        List<Pool<?>> existing;
        synchronized (this) {
            listeners.add(listener);
            existing = List.copyOf(ordered);
        }
        existing.forEach(listener);
    }

    @Override
    public String toString() {
        List<String> names = new ArrayList<>();
        for (Pool<?> p : pools()) {
            names.add(p.name());
        }
        return "PortkeeperPools" + names;
    }
}
