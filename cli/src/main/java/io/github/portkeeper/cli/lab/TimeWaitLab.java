package io.github.portkeeper.cli.lab;

import io.github.portkeeper.core.KernelProbe;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The TIME_WAIT lab: fires the same HTTP GET workload as a naive socket-per-request client, as
 * stock Apache HttpClient 5 and through Portkeeper, and prints what each left on this host, as
 * the kernel counts it. {@code java -jar portkeeper.jar lab --help} lists the flags; docs/lab.md
 * explains the table.
 *
 * <p>Not thread-safe: one run at a time per JVM.
 */
final class TimeWaitLab {

    private TimeWaitLab() {
    }

    /**
     * Runs the lab with checked settings, as {@code portkeeper lab} does.
     *
     * @return the exit status: 0 after a run, 2 where --starved cannot run or the target host does
     *     not resolve, 1 if the lab itself failed
     */
    static int run(LabOptions options, PrintStream out, PrintStream err, boolean unicode) {
        if (options.starved()) {
            return Starved.run(options, out, err);
        }
        if (options.target().isPresent()) {
            String host = options.target().get().getHost();
            try {
                InetAddress.getAllByName(host);
            } catch (UnknownHostException e) {
                err.println("portkeeper lab: --target host '" + host + "' cannot be resolved: " + e.getMessage());
                return 2;
            }
        }
        try {
            return runLab(options, out, err, unicode);
        } catch (IOException | RuntimeException e) {
            err.println();
            err.println("portkeeper lab: failed: " + e);
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("portkeeper lab: interrupted");
            return 1;
        }
    }

    private static int runLab(LabOptions options, PrintStream out, PrintStream err, boolean unicode)
            throws IOException, InterruptedException {
        HostFacts host = HostFacts.read();
        KernelProbe probe = KernelProbe.linux();
        Report.printHeader(out, options, host);
        if (!probe.isAvailable()) {
            out.println("note: this host has no /proc/net/tcp (not Linux?), so kernel figures show as '?'");
            out.println();
        }
        out.flush();
        List<ModeResult> results = new ArrayList<>();
        ModeRunner runner = new ModeRunner(options, probe, err);
        for (Mode mode : options.modes()) {
            results.add(runner.run(mode));
        }
        new Report(results, options, host, unicode).print(out);
        if (options.json().isPresent()) {
            write(options.json().get(), JsonReport.of(results));
            out.println();
            out.println("JSON written to " + options.json().get());
        }
        if (options.chart().isPresent()) {
            long samples = results.stream().mapToLong(r -> r.series().size()).sum();
            long span = results.stream().mapToLong(r -> r.series().isEmpty() ? 0
                    : r.series().get(r.series().size() - 1).millis() - r.series().get(0).millis()).sum();
            String sampling = samples > results.size()
                    ? String.format(Locale.ROOT, "; kernel sampled every ~%d ms", span / (samples - results.size())) : "";
            String subtitle = String.format(Locale.ROOT, "%,d GET requests per mode, %d threads, %s%s",
                    options.requests(), options.concurrency(),
                    options.target().map(t -> "server " + t).orElse("embedded server (idle timeout "
                            + Report.human(options.serverIdleTimeout().toMillis()) + ")"),
                    sampling);
            write(options.chart().get(), Chart.svg(results, subtitle));
            if (options.json().isEmpty()) {
                out.println();
            }
            out.println("Chart written to " + options.chart().get());
        }
        return 0;
    }

    private static void write(Path file, String content) throws IOException {
        Files.writeString(file, content, StandardCharsets.UTF_8);
    }
}
