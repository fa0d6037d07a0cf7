package io.github.portkeeper.core;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Reading {@code ip_local_reserved_ports}, as the kernel prints it: ports and ranges separated by
 * commas, sorted, a newline at the end, an empty line for none. Only the reserved ports inside
 * the ephemeral range take ports from the budget. The namespace test
 * ({@code PortBudgetReservedPortsNamespaceTest}) shows the same against a real kernel.
 */
class PortBudgetReservedPortsTest {

    @Test
    void reservedPortsInsideTheRangeAreCountedAndOthersAreNot() {
        assertThat(PortBudget.reservedIn("40000-40099\n", 40000, 40199)).isEqualTo(100);
        assertThat(PortBudget.reservedIn("1-3,40000-40099,50000\n", 40000, 40199)).isEqualTo(100);
        assertThat(PortBudget.reservedIn("39990-40009,40199,40200\n", 40000, 40199)).isEqualTo(11);
        assertThat(PortBudget.reservedIn("8080,9090\n", 32768, 60999)).isZero();
        assertThat(PortBudget.reservedIn("0-65535", 32768, 60999)).isEqualTo(28_232);
        // Overlapping items (the kernel never prints them) count each port once.
        assertThat(PortBudget.reservedIn("40000-40010,40005-40020", 40000, 40199)).isEqualTo(21);
    }

    @Test
    void anEmptyListReservesNothing() {
        assertThat(PortBudget.reservedIn("\n", 32768, 60999)).isZero();
        assertThat(PortBudget.reservedIn("", 32768, 60999)).isZero();
    }

    @Test
    void aListNotInTheKernelsFormIsRejectedNamingTheValue() {
        for (String bad : new String[] {"abc", "40000-", "-40000", "40099-40000", "40000,,40001", "40000 40001",
                "70000", "40000-70000", "+5", "40000;40001", "1-2-3"}) {
            assertThatThrownBy(() -> PortBudget.reservedIn(bad, 40000, 40199)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("ip_local_reserved_ports must be ports and first-last ranges separated by commas, "
                            + "such as 40000-40099,50000, but was '" + bad + "'");
        }
    }

    @Test
    void theDetectedBudgetIsEightyPercentOfThePortsConnectMayPick() {
        PortBudget budget = PortBudget.detected(40000, 40199, "40000-40099\n");
        assertThat(budget.rangeSize()).isEqualTo(200);
        assertThat(budget.reservedPorts()).isEqualTo(100);
        assertThat(budget.usablePorts()).isEqualTo(100);
        assertThat(budget.perEndpoint()).isEqualTo(80);
        assertThat(budget.withShare(0.5).perEndpoint()).isEqualTo(50);
        assertThat(budget.withShare(0.5).reservedPorts()).isEqualTo(100);
        assertThat(budget.withKernelCounting(false).perEndpoint()).isEqualTo(80);
        assertThat(budget).hasToString("PortBudget{range=40000-40199, reserved=100, share=0.8, perEndpoint=80, kernel=true}");
        // The whole range reserved: connect() would fail at once; the budget still allows one.
        assertThat(PortBudget.detected(40000, 40199, "40000-40199").perEndpoint()).isEqualTo(1);
    }

    @Test
    void aReservedListThatCannotBeReadOrParsedIsIgnored() {
        assertThat(PortBudget.detected(40000, 40199, null).perEndpoint()).isEqualTo(160);
        assertThat(PortBudget.detected(40000, 40199, "garbage").reservedPorts()).isZero();
        assertThat(PortBudget.detected(40000, 40199, "garbage")).hasToString(
                "PortBudget{range=40000-40199, share=0.8, perEndpoint=160, kernel=true}");
    }

    @Test
    void explicitAndDisabledBudgetsReserveNothing() {
        assertThat(PortBudget.ofRange(40000, 40199).reservedPorts()).isZero();
        assertThat(PortBudget.ofRange(40000, 40199).usablePorts()).isEqualTo(200);
        assertThat(PortBudget.disabled().reservedPorts()).isZero();
    }
}
