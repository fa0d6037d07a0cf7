package io.github.portkeeper.cli;

import io.github.portkeeper.cli.doctor.DoctorCommand;
import io.github.portkeeper.cli.internal.Version;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code portkeeper} command ({@code java -jar cli/target/portkeeper.jar}): {@code lab}, the
 * TIME_WAIT lab, and {@code doctor}, a diagnosis of this host's sockets. With no subcommand it
 * runs the lab on its defaults. {@code -h/--help} and {@code --version} work everywhere; bad usage
 * exits with status 2 and a message naming the flag and the value.
 *
 * <p>Not thread-safe: one run per instance.
 */
@Command(name = "portkeeper", mixinStandardHelpOptions = true, versionProvider = Version.class,
        subcommands = {DoctorCommand.class},
        description = {"Portkeeper: connection pooling that leaves no TIME_WAIT on the client.",
            "With no command, runs the lab on its defaults."},
        footer = {"", "Run 'portkeeper COMMAND --help' for a command's flags."})
public final class PortkeeperCli implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    private PortkeeperCli() {
    }

    /**
     * Runs the command line and exits the JVM with its status.
     *
     * @param args the command-line arguments
     */
    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /**
     * Runs the command line without exiting the JVM.
     *
     * @param args the command-line arguments
     * @param out where reports and help go
     * @param err where errors and progress go
     * @return the exit status: 0 on success, 2 on bad usage, other values as each command documents
     */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = commandLine();
        cli.setOut(out);
        cli.setErr(err);
        int status = cli.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    static CommandLine commandLine() {
        return new CommandLine(new PortkeeperCli())
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    cmd.getErr().println(cmd.getCommandName() + ": failed: " + e);
                    return 1;
                });
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }
}
