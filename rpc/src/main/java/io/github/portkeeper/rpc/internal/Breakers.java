package io.github.portkeeper.rpc.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;

import java.util.concurrent.ConcurrentHashMap;

/**
 * One Resilience4j circuit breaker per endpoint, created on first use in the client's registry
 * and named {@code <client>@<host:port>} (plus the qualifier, if any). Thread-safe.
 */
public final class Breakers {

    private final CircuitBreakerRegistry registry;
    private final String clientName;
    private final ConcurrentHashMap<Endpoint, CircuitBreaker> byEndpoint = new ConcurrentHashMap<>();

    public Breakers(CircuitBreakerRegistry registry, String clientName) {
        this.registry = registry;
        this.clientName = clientName;
    }

    public CircuitBreaker forEndpoint(Endpoint endpoint) {
        CircuitBreaker breaker = byEndpoint.get(endpoint);
        return breaker != null ? breaker : byEndpoint.computeIfAbsent(endpoint, e -> registry.circuitBreaker(nameOf(e)));
    }

    public CircuitBreakerRegistry registry() {
        return registry;
    }

    private String nameOf(Endpoint e) {
        return clientName + "@" + e + (e.qualifier() == null ? "" : "/" + e.qualifier());
    }
}
