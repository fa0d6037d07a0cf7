package io.github.portkeeper.core;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The refusal's message must add up: the ports allowed are a share of the ports connect() may
 * pick, which are the range less the ports the kernel reserves.
 */
class PortBudgetExhaustedMessageTest {

    private static final Endpoint ENDPOINT = Endpoint.of("budget.test", 7000);

    @Test
    void withReservedPortsTheMessageCountsTheShareOfTheUsablePortsAndNamesTheReservedOnes() {
        PortBudget budget = PortBudget.detected(40000, 40199, "40000-40099\n");
        PortBudgetExhaustedException e = new PortBudgetExhaustedException(ENDPOINT, budget,
                new PortBudgetSnapshot.EndpointBudget(80, 50, 30, 0));
        assertThat(e.getMessage()).startsWith("Port budget toward budget.test:7000 is spent: 80 of 80 ports allowed"
                + " (80% of the 100 usable ports of the ephemeral range 40000-40199, 100 of its 200 ports reserved"
                + " by net.ipv4.ip_local_reserved_ports) are tied up: 50 open connections of this pool,");
    }

    @Test
    void withoutReservedPortsTheMessageCountsTheShareOfTheWholeRange() {
        PortBudget budget = PortBudget.ofRange(40000, 40199);
        PortBudgetExhaustedException e = new PortBudgetExhaustedException(ENDPOINT, budget,
                new PortBudgetSnapshot.EndpointBudget(160, 100, 60, 0));
        assertThat(e.getMessage()).startsWith("Port budget toward budget.test:7000 is spent: 160 of 160 ports allowed"
                + " (80% of the ephemeral range 40000-40199, 200 ports) are tied up: 100 open connections of this pool,");
    }
}
