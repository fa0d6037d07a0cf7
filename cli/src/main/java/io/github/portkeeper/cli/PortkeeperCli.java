package io.github.portkeeper.cli;

import io.github.portkeeper.cli.doctor.DoctorCommand;
import io.github.portkeeper.cli.internal.Version;
import io.github.portkeeper.cli.lab.LabCommand;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;

/**
 * The {@code portkeeper} command ({@code java -jar cli/target/portkeeper.jar}): {@code lab}, the
 * TIME_WAIT lab, and {@code doctor}, a diagnosis of this host's sockets. With no arguments it
 * runs the lab on its defaults. {@code -h/--help} and {@code --version} work everywhere; bad usage
 * exits with status 2 and a message naming the flag and the value.
 *
 * <p>Not thread-safe: one run per instance.
 */
@Command(name = "portkeeper", mixinStandardHelpOptions = true, versionProvider = Version.class,
        subcommands = {LabCommand.class, DoctorCommand.class, HelpCommand.class},
        description = {"Portkeeper: connection pooling that leaves no TIME_WAIT on the client.",
            "With no arguments, runs the lab on its defaults."},
        footer = {"", "Run 'portkeeper COMMAND --help' for a command's flags."})
public final class PortkeeperCli implements Callable<Integer> {

    /** Exit status for bad usage: an unknown flag, a bad value, a missing command. */
    public static final int USAGE = 2;

    private final PrintStream out;
    private final PrintStream err;
    private final boolean unicode;

    private PortkeeperCli(PrintStream out, PrintStream err, boolean unicode) {
        this.out = out;
        this.err = err;
        this.unicode = unicode;
    }

    /**
     * Runs the command line and exits the JVM with its status.
     *
     * @param args the command-line arguments
     */
    public static void main(String[] args) {
        Charset cs = stdoutCharset();
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, cs);
        int status = run(args, out, System.err, cs.newEncoder().canEncode('\u00b5'));
        out.flush();
        System.exit(status);
    }

    /**
     * Runs the command line without exiting the JVM.
     *
     * @param args the command-line arguments
     * @param out where reports and help go
     * @param err where errors and progress go
     * @return the exit status: 0 on success, {@value #USAGE} on bad usage, other values as each
     *     command documents
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return run(args, out, err, false);
    }

    private static int run(String[] args, PrintStream out, PrintStream err, boolean unicode) {
        CommandLine cli = new CommandLine(new PortkeeperCli(out, err, unicode));
        PrintWriter outWriter = new PrintWriter(out, true);
        PrintWriter errWriter = new PrintWriter(err, true);
        cli.setOut(outWriter);
        cli.setErr(errWriter);
        cli.setParameterExceptionHandler((e, arguments) -> {
            CommandLine cmd = e.getCommandLine();
            cmd.getErr().println(cmd.getCommandSpec().qualifiedName() + ": " + e.getMessage());
            cmd.getErr().println("Run '" + cmd.getCommandSpec().qualifiedName() + " --help' for the flags.");
            return USAGE;
        });
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println(cmd.getCommandSpec().qualifiedName() + ": failed: " + e);
            return 1;
        });
        int status = cli.execute(args.length == 0 ? new String[] {"lab"} : args);
        outWriter.flush();
        errWriter.flush();
        return status;
    }

    /** Runs when flags but no command are given: there is nothing to do but say so. */
    @Override
    public Integer call() {
        err.println("portkeeper: name a command, lab or doctor (or give no arguments to run the lab)");
        err.println("Run 'portkeeper --help' for the commands.");
        return USAGE;
    }

    /**
     * Returns where the lab prints its table.
     *
     * @return standard output, or what the caller of {@link #run} gave
     */
    public PrintStream out() {
        return out;
    }

    /**
     * Returns where the lab prints progress and errors.
     *
     * @return standard error, or what the caller of {@link #run} gave
     */
    public PrintStream err() {
        return err;
    }

    /**
     * Tells whether the output can show non-ASCII characters such as the micro sign.
     *
     * @return true where standard output encodes them
     */
    public boolean unicode() {
        return unicode;
    }

    /** The charset System.out encodes with on JDK 17 (a console's, else the locale's). */
    private static Charset stdoutCharset() {
        String name = System.getProperty("stdout.encoding",
                System.getProperty("sun.stdout.encoding", System.getProperty("native.encoding")));
        try {
            return name != null ? Charset.forName(name) : Charset.defaultCharset();
        } catch (RuntimeException e) {
            return StandardCharsets.UTF_8;
        }
    }
}
