package io.github.portkeeper.benchmarks;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A benchmark's server process never outlives a setup that failed, and a dead one is named. */
class BenchServerProcessTest {

    @Test
    void unknownClientFailsBeforeAnyServerProcessIsStarted() throws Exception {
        Set<Long> before = children();
        HttpBenchmark.Client state = new HttpBenchmark.Client();
        state.client = "no-such-client";
        state.server = "process";
        try {
            assertThatThrownBy(state::start).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no-such-client");
            assertThat(children()).as("child processes after the failed setup").isEqualTo(before);
        } finally {
            destroyChildrenNotIn(before);
        }
    }

    @Test
    void serverProcessThatDiesBeforePrintingItsPortIsReportedWithItsExitCode() throws Exception {
        // A class without a main method: the child JVM prints an error and exits with 1.
        Process child = BenchServer.spawn(StubConnection.class);
        try {
            assertThatThrownBy(() -> BenchServer.port(child)).isInstanceOf(IOException.class)
                    .hasMessageContaining("ended before printing its port")
                    .hasMessageContaining("exit code 1");
        } finally {
            child.destroyForcibly();
            child.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static Set<Long> children() {
        return ProcessHandle.current().children().filter(ProcessHandle::isAlive).map(ProcessHandle::pid).collect(Collectors.toSet());
    }

    /** Ends only the processes this test started (on the old code, the leaked server). */
    private static void destroyChildrenNotIn(Set<Long> before) {
        ProcessHandle.current().children().filter(p -> !before.contains(p.pid())).forEach(p -> {
            p.destroyForcibly();
            p.onExit().orTimeout(30, TimeUnit.SECONDS).join();
        });
    }
}
