package io.github.portkeeper.benchmarks;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link ChurnCost}'s rounds take turns, so a drift of the machine or a position effect falls on both clients alike. */
class ChurnCostTest {

    @Test
    void roundsTakeTurnsAbbaSoEachClientGoesFirstInHalfOfThem() {
        List<String> order = new ArrayList<>();
        for (int round = 1; round <= 4; round++) {
            order.add(ChurnCost.portkeeperFirst(round) ? "portkeeper,stock" : "stock,portkeeper");
        }

        assertThat(String.join(",", order)).isEqualTo("stock,portkeeper,portkeeper,stock,stock,portkeeper,portkeeper,stock");
    }
}
