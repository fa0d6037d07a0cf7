package io.github.portkeeper.cli.doctor;

import io.github.portkeeper.cli.internal.DurationConverter;
import io.github.portkeeper.cli.internal.OutputFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code portkeeper doctor}: a read-only diagnosis of this host's TCP sockets (Linux).
 *
 * <p>Not thread-safe: picocli creates one instance per run.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        versionProvider = io.github.portkeeper.cli.internal.Version.class,
        description = {
            "Diagnoses this host's TCP sockets, read-only (Linux): per destination the client sockets by state,",
            "the rate of new client TIME_WAIT, ports left and time to exhaustion, the owning processes;",
            "per listening port the server-side TIME_WAIT and CLOSE_WAIT; the sysctls that matter; a verdict."},
        footer = {"", "Exit status: 0 healthy, 3 at risk, 4 exhausting, 2 bad usage or not Linux, 1 failure."})
public final class DoctorCommand implements Callable<Integer> {

    /** Exit status when a destination is at risk. */
    public static final int AT_RISK = 3;
    /** Exit status when a destination is running out of ports. */
    public static final int EXHAUSTING = 4;

    /** The longest --interval: as the lab's durations, and far from where nanoseconds overflow. */
    private static final Duration MAX_INTERVAL = Duration.ofHours(1);

    @Spec
    CommandSpec spec;

    @Option(names = "--interval", paramLabel = "D", defaultValue = "5s", converter = DurationConverter.class,
            description = "sampling window: the socket table is read several times over it (default ${DEFAULT-VALUE}; "
                    + "e.g. 500ms, 5s, 1m)")
    Duration interval;

    @Option(names = "--json", paramLabel = "FILE", description = "also write the diagnosis as JSON")
    String jsonFile;

    /** The checked {@code --json} file, or {@code null}. */
    private Path json;

    @Option(names = "--watch", description = "refresh the diagnosis every interval until interrupted")
    boolean watch;

    @Option(names = "--count", paramLabel = "N", defaultValue = "0",
            description = "with --watch: stop after N diagnoses (default: never)")
    int count;

    @Option(names = "--top", paramLabel = "N", defaultValue = "15",
            description = "destinations and listening ports shown in the table (default ${DEFAULT-VALUE}; --json has all)")
    int top;

    @Option(names = "--proc-root", paramLabel = "DIR", defaultValue = "/",
            description = "read DIR/proc instead of /proc, e.g. a host's /proc mounted into a container (default /)")
    Path procRoot;

    @Override
    public Integer call() throws IOException {
        if (interval.compareTo(Duration.ofMillis(200)) < 0) {
            throw new ParameterException(spec.commandLine(),
                    "--interval must be at least 200ms, but was '" + given("--interval") + "'");
        }
        if (interval.compareTo(MAX_INTERVAL) > 0) {
            throw new ParameterException(spec.commandLine(),
                    "--interval must be at most 1 hour, but was '" + given("--interval") + "'");
        }
        if (top < 1) {
            throw new ParameterException(spec.commandLine(), "--top must be at least 1, but was '" + top + "'");
        }
        if (count < 0) {
            throw new ParameterException(spec.commandLine(), "--count must be 0 or more, but was '" + count + "'");
        }
        json = jsonFile == null ? null : OutputFile.of(spec.commandLine(), "--json", jsonFile);
        return run(spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    private String given(String flag) {
        List<String> values = spec.findOption(flag).originalStringValues();
        return values.isEmpty() ? "" : values.get(values.size() - 1);
    }

    private int run(PrintWriter out, PrintWriter err) throws IOException {
        ProcFs proc = new ProcFs(procRoot);
        if (!proc.hasSocketTables()) {
            err.println("portkeeper doctor: this host has no " + proc.tcp() + " (the doctor reads Linux's socket "
                    + "tables; on " + System.getProperty("os.name") + " there is nothing to read)");
            err.flush();
            return 2;
        }
        Sampler sampler = new Sampler(proc);
        int exit = 0;
        for (int n = 1; ; n++) {
            Sampler.Interval sampled = sampler.run(interval);
            Diagnosis d = Diagnoser.diagnose(proc, sampled, sampler.owners(), interval);
            if (watch) {
                out.print("\033[H\033[2J"); // clear the terminal between refreshes
            }
            DoctorReport.print(d, top, out);
            if (json != null) {
                Files.writeString(json, DoctorJson.of(d), StandardCharsets.UTF_8);
                out.println();
                out.println("JSON written to " + json);
            }
            out.flush();
            exit = switch (d.verdict()) {
                case HEALTHY -> 0;
                case AT_RISK -> AT_RISK;
                case EXHAUSTING -> EXHAUSTING;
            };
            if (!watch || (count > 0 && n >= count)) {
                return exit;
            }
        }
    }
}
