package io.github.portkeeper.core.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The endpoint pools whose port budget counts the kernel's sockets, each with its budget, held
 * weakly so forgotten pools go; and the rule that drops those that need no more counts.
 *
 * <p>Why apart: the {@link KernelPortCounter} that adds to it, its {@link KernelReadSchedule} and
 * its {@link KernelTableCount} all walk it; what is tracked, and for how long, is one question.
 *
 * <p>Thread-safety: safe for concurrent use (a synchronized map).
 */
final class KernelCountedPools {

    private final Map<EndpointPool<?>, Integer> tracked = Collections.synchronizedMap(new WeakHashMap<>());

    /** Tracks {@code ep} with {@code budget}, unless it is tracked already. */
    void track(EndpointPool<?> ep, int budget) {
        tracked.putIfAbsent(ep, budget);
    }

    boolean isTracked(EndpointPool<?> ep) {
        return tracked.containsKey(ep);
    }

    /** The budget {@code ep} is tracked with, or null if it is not tracked. */
    Integer budgetOf(EndpointPool<?> ep) {
        return tracked.get(ep);
    }

    /**
     * The tracked endpoint pools, less those of closed pools and those their pool forgot, which
     * are dropped: neither needs counts, and one still reachable (a closed pool its user holds,
     * an endpoint pool the garbage collector has not taken yet) would otherwise keep asking for
     * periodic reads, for as long as its last count saw others' sockets or the TIME_WAITs it
     * counted are in their window.
     */
    List<Map.Entry<EndpointPool<?>, Integer>> now() {
        synchronized (tracked) {
            tracked.keySet().removeIf(ep -> ep.engine.isClosed() || forgotten(ep));
            return new ArrayList<>(tracked.entrySet());
        }
    }

    /**
     * Whether the pool has forgotten {@code ep} for good. Removal marks it removed before it
     * leaves the pool's map, and takes the mark back only while it is still there (a lease came
     * by meanwhile): marked and no longer in the map is for good. While the pool has a newer
     * endpoint pool for the same endpoint the old one stays (counted along with the new one,
     * toward the same addresses, at no extra read) until that one goes too, or the collector
     * takes it.
     */
    private static boolean forgotten(EndpointPool<?> ep) {
        return ep.isRemoved() && !ep.engine.endpoints().contains(ep.endpoint);
    }
}
