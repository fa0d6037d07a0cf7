package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * One Resilience4j circuit breaker per endpoint, created on first use in the client's registry
 * and named {@code <client>@<host:port>} (plus the qualifier, if any). A breaker leaves the
 * registry when the pool forgets its endpoint (so the registry, and the meters bound to it,
 * follow the live endpoints), unless its circuit is open: an open circuit is the memory of a
 * failing endpoint, which the pool forgets soonest. All leave when the client closes.
 *
 * <p>Nor does a breaker leave while a call holds it ({@link #callStarted} to {@link #callEnded}):
 * the pool forgets an endpoint on its listener thread, and a call that has its breaker but no
 * lease yet would otherwise record its outcome on a breaker nobody keeps. The breaker is then
 * dropped when its last call ends, if the endpoint is still unknown to the pool.
 *
 * <p>Two open clients never share a breaker: a client's name is claimed in its registry while it
 * is open, since breakers of the same name would be the same breaker, and one client's failures
 * would open the other's circuit. Thread-safe.
 */
public final class Breakers {

    /** The client names each registry holds breakers for; weak, so a registry can still be collected. */
    private static final Map<CircuitBreakerRegistry, Set<String>> CLAIMED = new WeakHashMap<>();

    private final CircuitBreakerRegistry registry;
    private final String clientName;
    /** Each entry's fields change only inside this map's compute functions, under its lock for the key. */
    private final ConcurrentHashMap<Endpoint, Held> byEndpoint = new ConcurrentHashMap<>();
    private volatile boolean closed;

    private Breakers(CircuitBreakerRegistry registry, String clientName) {
        this.registry = registry;
        this.clientName = clientName;
    }

    /**
     * The breakers of the client {@code clientName}, kept in {@code registry} until {@link #close()}.
     *
     * @throws IllegalArgumentException if an open client of that name already keeps its breakers there
     */
    public static Breakers claim(CircuitBreakerRegistry registry, String clientName) {
        synchronized (CLAIMED) {
            if (!CLAIMED.computeIfAbsent(registry, r -> new HashSet<>()).add(clientName)) {
                throw new IllegalArgumentException("circuitBreakerRegistry already holds the breakers of an open RpcClient named '"
                        + clientName + "'; give each client that shares a registry its own name (PoolConfig name)");
            }
        }
        return new Breakers(registry, clientName);
    }

    /** The endpoint's breaker, for inspection: created if there is none, no call counted. */
    public CircuitBreaker forEndpoint(Endpoint endpoint) {
        Held held = byEndpoint.get(endpoint);
        return held != null ? held.breaker : fetch(endpoint, false);
    }

    /**
     * The endpoint's breaker for a call, kept until {@link #callEnded} with it, whatever the pool
     * forgets meanwhile.
     */
    public CircuitBreaker callStarted(Endpoint endpoint) {
        return fetch(endpoint, true);
    }

    /** The call that {@link #callStarted} {@code breaker} has recorded its outcome. */
    public void callEnded(Endpoint endpoint, CircuitBreaker breaker) {
        byEndpoint.computeIfPresent(endpoint, (e, held) -> {
            if (held.breaker != breaker) {
                return held; // its breaker was dropped by close(); this one is another's
            }
            held.calls--;
            if (held.calls == 0 && held.forgottenBy != null) {
                Predicate<Endpoint> known = held.forgottenBy;
                held.forgottenBy = null;
                if (!known.test(e) && isClosedCircuit(held.breaker)) {
                    registry.remove(held.breaker.getName());
                    return null;
                }
            }
            return held;
        });
    }

    private CircuitBreaker fetch(Endpoint endpoint, boolean forCall) {
        if (closed) {
            // A call on a closed client fails without a connect; its breaker is kept nowhere.
            Held held = forCall ? null : byEndpoint.get(endpoint);
            return held != null ? held.breaker : CircuitBreaker.of(nameOf(endpoint), registry.getDefaultConfig());
        }
        Held held = byEndpoint.compute(endpoint, (e, h) -> {
            Held kept = h != null ? h : new Held(registry.circuitBreaker(nameOf(e)));
            if (forCall) {
                kept.calls++;
            }
            return kept;
        });
        if (closed) {
            drop(endpoint, h -> true); // close() ran meanwhile and may have missed it
        }
        return held.breaker;
    }

    /**
     * The pool forgot {@code endpoint}: its breaker leaves the registry, unless the endpoint is
     * known again ({@code known}) or its circuit is not closed; if a call holds it, once the last
     * such call ends (asking {@code known} again then).
     */
    public void endpointForgotten(Endpoint endpoint, Predicate<Endpoint> known) {
        drop(endpoint, h -> {
            if (h.calls > 0) {
                h.forgottenBy = known;
                return false;
            }
            return !known.test(endpoint) && isClosedCircuit(h.breaker);
        });
    }

    /** Every breaker leaves the registry, and the client's name is free there again. Idempotent. */
    public void close() {
        closed = true;
        for (Endpoint endpoint : byEndpoint.keySet()) {
            drop(endpoint, h -> true);
        }
        synchronized (CLAIMED) {
            Set<String> names = CLAIMED.get(registry);
            if (names != null) {
                names.remove(clientName);
            }
        }
    }

    public CircuitBreakerRegistry registry() {
        return registry;
    }

    /**
     * Removes the map entry and the registry entry in one step for the endpoint, so a concurrent
     * first use cannot take the breaker back from the registry half way. The registry tells its
     * own listeners (a metrics binding dropping the breaker's meters) meanwhile: they never wait
     * on this class.
     */
    private void drop(Endpoint endpoint, Predicate<Held> when) {
        byEndpoint.computeIfPresent(endpoint, (e, held) -> {
            if (!when.test(held)) {
                return held;
            }
            registry.remove(held.breaker.getName());
            return null;
        });
    }

    /** A breaker, the calls holding it, and whether the pool forgot its endpoint while they did. */
    private static final class Held {
        final CircuitBreaker breaker;
        int calls;
        Predicate<Endpoint> forgottenBy;

        Held(CircuitBreaker breaker) {
            this.breaker = breaker;
        }
    }

    private static boolean isClosedCircuit(CircuitBreaker breaker) {
        CircuitBreaker.State state = breaker.getState();
        return state == CircuitBreaker.State.CLOSED || state == CircuitBreaker.State.DISABLED
                || state == CircuitBreaker.State.METRICS_ONLY;
    }

    private String nameOf(Endpoint e) {
        return clientName + "@" + e + (e.qualifier() == null ? "" : "/" + e.qualifier());
    }
}
