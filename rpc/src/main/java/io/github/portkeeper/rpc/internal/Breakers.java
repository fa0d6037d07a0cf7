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
 * <p>Two open clients never share a breaker: a client's name is claimed in its registry while it
 * is open, since breakers of the same name would be the same breaker, and one client's failures
 * would open the other's circuit. Thread-safe.
 */
public final class Breakers {

    /** The client names each registry holds breakers for; weak, so a registry can still be collected. */
    private static final Map<CircuitBreakerRegistry, Set<String>> CLAIMED = new WeakHashMap<>();

    private final CircuitBreakerRegistry registry;
    private final String clientName;
    private final ConcurrentHashMap<Endpoint, CircuitBreaker> byEndpoint = new ConcurrentHashMap<>();
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

    public CircuitBreaker forEndpoint(Endpoint endpoint) {
        CircuitBreaker breaker = byEndpoint.get(endpoint);
        if (breaker != null) {
            return breaker;
        }
        if (closed) {
            // A call on a closed client fails without a connect; its breaker is kept nowhere.
            return CircuitBreaker.of(nameOf(endpoint), registry.getDefaultConfig());
        }
        breaker = byEndpoint.computeIfAbsent(endpoint, e -> registry.circuitBreaker(nameOf(e)));
        if (closed) {
            drop(endpoint, b -> true); // close() ran meanwhile and may have missed it
        }
        return breaker;
    }

    /**
     * The pool forgot {@code endpoint}: its breaker leaves the registry, unless the endpoint is
     * known again ({@code known}) or its circuit is not closed.
     */
    public void endpointForgotten(Endpoint endpoint, Predicate<Endpoint> known) {
        drop(endpoint, b -> !known.test(endpoint) && isClosedCircuit(b));
    }

    /** Every breaker leaves the registry, and the client's name is free there again. Idempotent. */
    public void close() {
        closed = true;
        for (Endpoint endpoint : byEndpoint.keySet()) {
            drop(endpoint, b -> true);
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
    private void drop(Endpoint endpoint, Predicate<CircuitBreaker> when) {
        byEndpoint.computeIfPresent(endpoint, (e, breaker) -> {
            if (!when.test(breaker)) {
                return breaker;
            }
            registry.remove(breaker.getName());
            return null;
        });
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
