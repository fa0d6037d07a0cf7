package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.HttpRoute;

import java.util.Objects;

/**
 * The qualifier of a pool endpoint: what makes HTTP connections interchangeable. The whole route
 * (target, proxies, TLS layering, local address, Unix domain socket) and the user token
 * (HttpClient's connection state: an NTLM principal, a client certificate's subject).
 */
public final class RouteKey {

    private final HttpRoute route;
    private final Object state;
    private final int hash;

    public RouteKey(HttpRoute route, Object state) {
        this.route = Objects.requireNonNull(route, "route");
        this.state = state;
        this.hash = 31 * route.hashCode() + Objects.hashCode(state);
    }

    public HttpRoute route() {
        return route;
    }

    public Object state() {
        return state;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof RouteKey)) {
            return false;
        }
        RouteKey other = (RouteKey) o;
        return hash == other.hash && route.equals(other.route) && Objects.equals(state, other.state);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public String toString() {
        return route + (state != null ? " [" + state + "]" : "");
    }
}
