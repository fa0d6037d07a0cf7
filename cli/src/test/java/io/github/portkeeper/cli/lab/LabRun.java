package io.github.portkeeper.cli.lab;

import io.github.portkeeper.cli.CliRun;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/** Runs {@code portkeeper lab args...} in this JVM, or only parses its flags. */
final class LabRun {

    private LabRun() {
    }

    static CliRun of(String... args) {
        List<String> all = new ArrayList<>(List.of("lab"));
        all.addAll(List.of(args));
        return CliRun.of(all.toArray(String[]::new));
    }

    /** The settings {@code portkeeper lab args...} would run with. */
    static LabOptions parse(String... args) {
        LabCommand command = new LabCommand();
        new CommandLine(command).parseArgs(args);
        return command.options();
    }
}
