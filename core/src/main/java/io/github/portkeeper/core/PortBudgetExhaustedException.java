package io.github.portkeeper.core;

/**
 * A new connection to an endpoint would pass the pool's {@link PortBudget}: too many of this
 * host's ephemeral ports are tied up toward it (open, or in TIME_WAIT for 60 s). The message
 * names the endpoint, the range and the counts, and says what to do.
 */
public final class PortBudgetExhaustedException extends PoolException {

    private static final long serialVersionUID = 1L;

    private final transient PortBudgetSnapshot.EndpointBudget usage;

    /**
     * Creates the refusal of a spent budget; the message names the endpoint, the range and the
     * counts, and says what to do.
     *
     * @param endpoint the endpoint whose budget is spent
     * @param budget   the pool's budget settings
     * @param usage    the endpoint's port usage when the lease gave up
     */
    public PortBudgetExhaustedException(Endpoint endpoint, PortBudget budget, PortBudgetSnapshot.EndpointBudget usage) {
        super(endpoint, message(endpoint, budget, usage), null);
        this.usage = usage;
    }

    /**
     * The endpoint's port usage when the lease gave up. Not serialized.
     *
     * @return the usage, or {@code null} if the exception was deserialized
     */
    public PortBudgetSnapshot.EndpointBudget usage() {
        return usage;
    }

    private static String message(Endpoint endpoint, PortBudget budget, PortBudgetSnapshot.EndpointBudget u) {
        String range = budget.reservedPorts() == 0
                ? "% of the ephemeral range " + budget.rangeLow() + "-" + budget.rangeHigh() + ", " + budget.rangeSize() + " ports"
                : "% of the " + budget.usablePorts() + " usable ports of the ephemeral range " + budget.rangeLow() + "-"
                        + budget.rangeHigh() + ", " + budget.reservedPorts() + " of its " + budget.rangeSize()
                        + " ports reserved by net.ipv4.ip_local_reserved_ports";
        return "Port budget toward " + endpoint + " is spent: " + u.used() + " of " + u.budget() + " ports allowed ("
                + Math.round(budget.share() * 100) + range + ") are tied up: " + u.live() + " open connections of this pool, "
                + u.recentTimeWait() + " in TIME_WAIT from this pool's own closes in the last 60 s, "
                + u.otherSockets() + " more held by other sockets on this host. "
                + "Ports come back as TIME_WAIT expires (60 s). To stop spending them, let the server close first "
                + "(Retirement.awaitPeer), reuse connections longer (maxIdleTime, maxLifetime), spread traffic over more "
                + "server addresses or ports (each its own endpoint: one host name's several addresses share one budget), widen net.ipv4.ip_local_port_range, or set net.ipv4.tcp_tw_reuse=1 "
                + "(outgoing connections only; never tcp_tw_recycle).";
    }
}
