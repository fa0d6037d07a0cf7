package io.github.portkeeper.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The command line as a whole: help and version everywhere, exit status 2 naming flag and value. */
class CliUsageTest {

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"--help", "-h", "lab --help", "lab -h", "doctor --help", "doctor -h", "help lab", "help doctor"})
    void helpIsShownWithStatusZero(String commandLine) {
        CliRun run = CliRun.of(commandLine.split(" "));

        assertThat(run.exitCode()).as("%s", run).isZero();
        assertThat(run.out()).as("%s", run).startsWith("Usage: portkeeper").contains("--help", "--version");
        if (commandLine.contains("lab")) {
            assertThat(run.out()).contains("--mode", "--requests", "--concurrency", "--target", "--server-idle-timeout",
                    "--cooldown", "--json", "--chart", "--starved");
        } else if (commandLine.contains("doctor")) {
            assertThat(run.out()).contains("--interval", "--json", "--watch", "--count", "--top", "--proc-root");
        } else {
            assertThat(run.out()).contains("lab", "doctor");
        }
        assertThat(run.err()).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"--version", "-V", "lab --version", "doctor --version"})
    void versionIsShownEverywhere(String commandLine) {
        CliRun run = CliRun.of(commandLine.split(" "));

        assertThat(run.exitCode()).as("%s", run).isZero();
        assertThat(run.out()).matches("(?s)portkeeper \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\\R.*Java .*");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "--bogus                         | portkeeper        | --bogus |",
        "frobnicate                      | portkeeper        | frobnicate |",
        "doctor --bogus                  | portkeeper doctor | --bogus |",
        "doctor --interval abc           | portkeeper doctor | --interval | abc",
        "doctor --interval 10ms          | portkeeper doctor | --interval | 10ms",
        "doctor --interval=-5s           | portkeeper doctor | --interval | -5s",
        "doctor --interval 999999999m    | portkeeper doctor | --interval | 999999999m",
        "doctor --interval PT2H          | portkeeper doctor | --interval | PT2H",
        "doctor --interval 200ms --json /nonexistent-dir/d.json | portkeeper doctor | --json | /nonexistent-dir/d.json",
        "doctor --interval 200ms --json .  | portkeeper doctor | --json   | .",
        "doctor --top 0                  | portkeeper doctor | --top      | 0",
        "doctor --top many               | portkeeper doctor | --top      | many",
        "doctor --count -1               | portkeeper doctor | --count    | -1",
        "doctor --watch=sometimes        | portkeeper doctor | --watch    | sometimes",
        "doctor stray                    | portkeeper doctor | stray |",
        "lab --bogus                     | portkeeper lab    | --bogus |",
        "lab --concurrency lots          | portkeeper lab    | --concurrency | lots",
        "lab --cooldown soon             | portkeeper lab    | --cooldown | soon",
    })
    void badUsageExitsWithTwoNamingFlagAndValue(String commandLine, String command, String flag, String value) {
        CliRun run = CliRun.of(commandLine.trim().split("\\s+"));

        assertThat(run.exitCode()).as("%s", run).isEqualTo(PortkeeperCli.USAGE);
        assertThat(run.err()).as("%s", run).startsWith(command.trim() + ": ").contains(flag.trim());
        if (value != null) {
            assertThat(run.err()).as("%s", run).contains("'" + value.trim() + "'");
        }
        assertThat(run.out()).as("nothing on stdout for bad usage").isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"doctor --proc-root /nonexistent-proc-root"})
    void doctorWithoutSocketTablesSaysWhyNotAndExitsWithTwo(String commandLine) {
        CliRun run = CliRun.of(commandLine.split(" "));

        assertThat(run.exitCode()).as("%s", run).isEqualTo(PortkeeperCli.USAGE);
        assertThat(run.err()).contains("/nonexistent-proc-root/proc/net/tcp", "Linux");
    }
}
