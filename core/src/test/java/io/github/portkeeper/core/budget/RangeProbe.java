package io.github.portkeeper.core.budget;

import io.github.portkeeper.core.PortBudget;
import io.github.portkeeper.core.testing.Host;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Child process of {@link PortBudgetTest}: runs in a private mount namespace where the file
 * {@code args[0]} is bind-mounted over {@code /proc/sys/net/ipv4/ip_local_port_range}. For each
 * further argument it writes that text into the file (the bind mount shows the same inode, so
 * {@link PortBudget#defaults()} reads it) and prints {@code RESULT case<i>=<low>-<high>}. Not a
 * test itself.
 */
public final class RangeProbe {

    private RangeProbe() {
    }

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        for (int i = 1; i < args.length; i++) {
            // "\t" in an argument stands for a tab, as /proc prints "32768\t60999\n".
            Files.writeString(file, args[i].replace("\\t", "\t").replace("\\n", "\n"), StandardCharsets.US_ASCII);
            PortBudget budget = PortBudget.defaults();
            System.out.println(Host.RESULT_PREFIX + "case" + i + "=" + budget.rangeLow() + "-" + budget.rangeHigh());
        }
        System.out.flush();
    }
}
