package io.github.portkeeper.core;

import java.util.Map;

/**
 * Port usage per endpoint at one moment, for health checks and dashboards.
 *
 * @param budget    the pool's budget settings
 * @param endpoints usage per endpoint the pool has served
 */
public record PortBudgetSnapshot(PortBudget budget, Map<Endpoint, EndpointBudget> endpoints) {

    /**
     * Creates a snapshot, copying the per-endpoint map.
     *
     * @param budget    the pool's budget settings
     * @param endpoints usage per endpoint; copied
     */
    public PortBudgetSnapshot {
        endpoints = Map.copyOf(endpoints);
    }

    /**
     * The highest share of its budget any endpoint uses: what the health indicator compares with
     * its thresholds.
     *
     * @return usually 0..1, above 1 when other sockets took ports; 0 when the budget is disabled
     */
    public double maxUsedRatio() {
        if (!budget.isEnabled()) {
            return 0;
        }
        double max = 0;
        for (EndpointBudget e : endpoints.values()) {
            max = Math.max(max, e.usedRatio());
        }
        return max;
    }

    /**
     * Port usage toward one endpoint.
     *
     * @param budget         ports this endpoint may tie up
     * @param live           open sockets of this pool toward it (leased, idle, draining, connecting)
     * @param recentTimeWait this pool's closes toward it with a local FIN in the last 60 s (each a TIME_WAIT)
     * @param otherSockets   further sockets on this host toward it seen by the kernel (other pools, other processes); 0 without the kernel probe
     */
    public record EndpointBudget(int budget, int live, int recentTimeWait, int otherSockets) {

        /**
         * Ports tied up toward the endpoint.
         *
         * @return {@code live + recentTimeWait + otherSockets}
         */
        public int used() {
            return live + recentTimeWait + otherSockets;
        }

        /**
         * The share of the budget in use.
         *
         * @return {@code used / budget}, usually 0..1 (above 1 when others took ports)
         */
        public double usedRatio() {
            return budget == 0 ? 0 : (double) used() / budget;
        }
    }
}
