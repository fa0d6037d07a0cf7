package io.github.portkeeper.core;

import java.util.Map;

/**
 * A point-in-time snapshot of a pool's connections. The figures are read without stopping the
 * pool, so under load they are each exact but not taken at one instant together.
 *
 * @param active    connections leased out
 * @param idle      connections ready to be leased
 * @param draining  connections the pool no longer leases, waiting to end by the retirement policy
 * @param pending   leases waiting for a connection
 * @param endpoints the same figures per endpoint
 */
public record PoolStats(int active, int idle, int draining, int pending, Map<Endpoint, EndpointStats> endpoints) {

    /**
     * Figures for one endpoint.
     *
     * @param active   connections leased out
     * @param idle     connections ready to be leased
     * @param draining connections waiting to end by the retirement policy
     * @param pending  leases waiting for a connection
     */
    public record EndpointStats(int active, int idle, int draining, int pending) {
    }

    /**
     * Creates a snapshot, copying the per-endpoint map.
     *
     * @param active    connections leased out
     * @param idle      connections ready to be leased
     * @param draining  connections waiting to end by the retirement policy
     * @param pending   leases waiting for a connection
     * @param endpoints the same figures per endpoint; copied
     */
    public PoolStats {
        endpoints = Map.copyOf(endpoints);
    }

    /**
     * Figures for one endpoint.
     *
     * @param endpoint the endpoint
     * @return its figures, all zero if the snapshot does not hold it
     */
    public EndpointStats endpoint(Endpoint endpoint) {
        return endpoints.getOrDefault(endpoint, new EndpointStats(0, 0, 0, 0));
    }
}
