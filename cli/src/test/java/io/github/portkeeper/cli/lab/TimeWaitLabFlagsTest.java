package io.github.portkeeper.cli.lab;

import io.github.portkeeper.cli.CliRun;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class TimeWaitLabFlagsTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "--mode foo                                     | --mode         | foo",
            "--mode naive,bogus                             | --mode         | naive,bogus",
            "--requests 0                                   | --requests     | 0",
            "--requests many                                | --requests     | many",
            "--requests=-5                                  | --requests     | -5",
            "--requests 99999999999                         | --requests     | 99999999999",
            "--concurrency -1                               | --concurrency  | -1",
            "--concurrency 5000                             | --concurrency  | 5000",
            "--server-idle-timeout 2x                       | --server-idle-timeout | 2x",
            "--server-idle-timeout 0s                       | --server-idle-timeout | 0s",
            "--server-idle-timeout 2                        | --server-idle-timeout | 2",
            "--cooldown soon                                | --cooldown     | soon",
            "--target ftp://example.org/                    | --target       | ftp://example.org/",
            "--target https://127.0.0.1/                    | --target       | https://127.0.0.1/",
            "--target not-a-url                             | --target       | not-a-url",
            "--target http://127.0.0.1:99999/               | --target       | http://127.0.0.1:99999/",
            "--target http://127.0.0.1:0/                   | --target       | http://127.0.0.1:0/",
            "--json /no/such/directory/out.json             | --json         | /no/such/directory",
            "--chart /tmp                                   | --chart        | /tmp",
            "--bogus                                        | --bogus        | --bogus",
            "--help=yes                                     | --help         | yes",
            "--requests                                     | --requests     | Missing required parameter",
            "--requests --concurrency 4                     | --requests     | --concurrency",
            "stray                                          | stray          | stray",
            "--requests 5 --requests 6                      | --requests     | only once",
            "--target http://127.0.0.1:9/ --server-idle-timeout 1s | --server-idle-timeout | http://127.0.0.1:9/",
            "--starved --target http://127.0.0.1:9/         | --starved      | http://127.0.0.1:9/",
    })
    void badFlagOrValueExitsWithTwoAndNamesFlagAndValue(String commandLine, String flag, String value) {
        CliRun run = LabRun.of(commandLine.trim().split("\\s+"));

        assertThat(run.exitCode()).as("%s", run).isEqualTo(2);
        assertThat(run.err()).as("%s", run).startsWith("portkeeper lab: ").contains(flag.trim()).contains(value.trim());
        assertThat(run.out()).as("nothing on stdout for a bad command line").isEmpty();
    }

    @Test
    void unresolvableTargetHostExitsWithTwo() {
        CliRun run = LabRun.of("--target", "http://no-such-host.invalid/", "--requests", "1");

        assertThat(run.exitCode()).as("%s", run).isEqualTo(2);
        assertThat(run.err()).contains("--target").contains("no-such-host.invalid");
    }

    @Test
    void helpListsEveryFlagAndExitsWithZero() {
        CliRun run = LabRun.of("--help");

        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).contains("--mode", "--requests", "--concurrency", "--target", "--server-idle-timeout",
                "--cooldown", "--json", "--chart", "--starved", "--help");
    }

    @Test
    void defaultsAreAllModesFiveThousandRequestsEightThreadsTwoSecondServerIdleTimeout() {
        LabOptions o = LabRun.parse();

        assertThat(o.modes()).containsExactly(Mode.NAIVE, Mode.HTTPCLIENT, Mode.PORTKEEPER);
        assertThat(o.requests()).isEqualTo(5_000);
        assertThat(o.concurrency()).isEqualTo(8);
        assertThat(o.serverIdleTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(o.target()).isEmpty();
        assertThat(o.starved()).isFalse();
    }

    @Test
    void durationsTakeMillisecondsSecondsMinutesAndIso() {
        assertThat(LabRun.parse("--server-idle-timeout", "500ms").serverIdleTimeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(LabRun.parse("--server-idle-timeout=2s").serverIdleTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(LabRun.parse("--server-idle-timeout", "1m").serverIdleTimeout()).isEqualTo(Duration.ofMinutes(1));
        assertThat(LabRun.parse("--server-idle-timeout", "PT1.5S").serverIdleTimeout()).isEqualTo(Duration.ofMillis(1500));
        assertThat(LabRun.parse("--cooldown", "0s").cooldown()).contains(Duration.ZERO);
    }

    @Test
    void modeListsRunInTheLabsOrderWhateverOrderTheyAreGivenIn() {
        assertThat(LabRun.parse("--mode", "portkeeper,naive").modes()).containsExactly(Mode.NAIVE, Mode.PORTKEEPER);
        assertThat(LabRun.parse("--mode", "all").modes()).hasSize(3);
    }

    @Test
    void starvedForwardsEveryOtherFlagToTheChild() {
        LabOptions o = LabRun.parse("--starved", "--requests", "3000", "--server-idle-timeout=500ms");

        assertThat(o.forwardable()).containsExactly("--requests=3000", "--server-idle-timeout=500ms");
    }
}
