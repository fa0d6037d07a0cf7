package io.github.portkeeper.http.internal;

import io.github.portkeeper.core.Endpoint;
import io.github.portkeeper.core.Pool;
import io.github.portkeeper.core.PoolStats.EndpointStats;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.SchemePortResolver;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.pool.PoolStats;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * HttpClient's routes as the pool's endpoints: a route and a user token make one endpoint (its
 * first hop's host and port, qualified by a {@link RouteKey}), and a route's limit and stats are
 * those of all its endpoints. Why apart from the manager: the mapping is used by every lease and
 * release, and the per-route views of {@code ConnPoolControl} walk the same endpoints.
 *
 * <p>Thread-safe.
 */
public final class RouteEndpoints {

    private final Pool<HttpConnection> pool;
    private final SchemePortResolver portResolver;
    private final Map<HttpRoute, Integer> maxPerRoute = new ConcurrentHashMap<>();

    public RouteEndpoints(Pool<HttpConnection> pool, SchemePortResolver portResolver) {
        this.pool = pool;
        this.portResolver = portResolver;
    }

    /** The pool's endpoint for the route and user token, with the route's own limit applied. */
    public Endpoint endpointOf(HttpRoute route, Object state) {
        HttpHost firstHop = route.getProxyHost() != null ? route.getProxyHost() : route.getTargetHost();
        Endpoint endpoint = Endpoint.of(firstHop.getHostName(), portOf(firstHop), new RouteKey(route, state));
        Integer max = maxPerRoute.isEmpty() ? null : maxPerRoute.get(route);
        if (max != null && pool.maxPerEndpoint(endpoint) != max) {
            pool.setMaxPerEndpoint(endpoint, max);
        }
        return endpoint;
    }

    /** The host's port, or its scheme's default; -1 if it has neither. */
    public int portOf(HttpHost host) {
        try {
            return portResolver.resolve(host);
        } catch (RuntimeException e) {
            return host.getPort();
        }
    }

    /**
     * Sets the route's own limit on each of its endpoints, or (negative {@code max}) takes it
     * back; {@code max} is not 0 (checked by the caller).
     */
    public void setMaxPerRoute(HttpRoute route, int max) {
        if (max < 0) {
            maxPerRoute.remove(route);
            for (Endpoint e : pool.endpoints()) {
                if (((RouteKey) e.qualifier()).route().equals(route)) {
                    pool.clearMaxPerEndpoint(e);
                }
            }
            return;
        }
        maxPerRoute.put(route, max);
        for (Endpoint e : pool.endpoints()) {
            if (((RouteKey) e.qualifier()).route().equals(route)) {
                pool.setMaxPerEndpoint(e, max);
            }
        }
    }

    /** The route's own limit, or the pool's default one. */
    public int maxPerRoute(HttpRoute route) {
        return maxPerRoute.getOrDefault(route, pool.maxPerEndpoint());
    }

    /** The route's stats, summed over its endpoints (one per user token). */
    public PoolStats stats(HttpRoute route) {
        int leased = 0;
        int pending = 0;
        int available = 0;
        for (Endpoint e : pool.endpoints()) {
            if (((RouteKey) e.qualifier()).route().equals(route)) {
                EndpointStats s = pool.stats(e);
                leased += s.active();
                pending += s.pending();
                available += s.idle();
            }
        }
        return new PoolStats(leased, pending, available, maxPerRoute(route));
    }

    /** The routes the pool has endpoints for. */
    public Set<HttpRoute> routes() {
        Set<HttpRoute> routes = new HashSet<>();
        for (Endpoint e : pool.endpoints()) {
            routes.add(((RouteKey) e.qualifier()).route());
        }
        return routes;
    }
}
