package io.github.portkeeper.cli.lab;

import io.github.portkeeper.cli.PortkeeperCli;
import io.github.portkeeper.cli.internal.DurationConverter;
import io.github.portkeeper.cli.internal.OutputFile;
import io.github.portkeeper.cli.internal.Version;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code portkeeper lab}: the TIME_WAIT lab. Parses and checks the flags, then hands them to
 * {@link TimeWaitLab}.
 *
 * <p>Not thread-safe: picocli creates one instance per run.
 */
@Command(name = "lab", mixinStandardHelpOptions = true, versionProvider = Version.class, sortOptions = false,
        description = {
            "Fires the same HTTP GET workload three ways and shows, from the kernel's own socket table,",
            "how many TIME_WAIT sockets each leaves on this host:",
            "  naive       a new TCP connection per request; the client closes first",
            "  httpclient  Apache HttpClient 5, HttpClients.createDefault()",
            "  portkeeper  PortkeeperHttpClients: the server closes first", ""},
        footer = {"", "Exit status: 0 after a run, 2 for a bad flag or value (or --starved where it cannot run),",
            "1 if the lab itself failed."})
public final class LabCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @ParentCommand
    PortkeeperCli parent;

    @Option(names = "--mode", paramLabel = "MODES", defaultValue = "all",
            description = "naive|httpclient|portkeeper|all, comma-separated (default ${DEFAULT-VALUE})")
    String mode;

    @Option(names = "--requests", paramLabel = "N", defaultValue = "5000",
            description = "requests per mode (default ${DEFAULT-VALUE})")
    long requests;

    @Option(names = "--concurrency", paramLabel = "C", defaultValue = "8",
            description = "client threads (default ${DEFAULT-VALUE})")
    long concurrency;

    @Option(names = "--target", paramLabel = "URL",
            description = "an http:// server to load instead of the embedded loopback one")
    String target;

    @Option(names = "--server-idle-timeout", paramLabel = "D", converter = DurationConverter.class,
            description = "embedded server: close connections idle longer than D, server first (default 2s; "
                    + "e.g. 500ms, 2s, 1m)")
    Duration serverIdleTimeout;

    @Option(names = "--cooldown", paramLabel = "D", converter = DurationConverter.class,
            description = "after the last request keep the pooled clients open for D, so the server's idle timeout "
                    + "can close first (default: the embedded server's idle timeout + 1s, ending once the server "
                    + "closed every connection; with --target: 0s)")
    Duration cooldown;

    @Option(names = "--json", paramLabel = "FILE", description = "also write the figures as JSON")
    String json;

    @Option(names = "--chart", paramLabel = "FILE", description = "also write an SVG chart of client TIME_WAIT over time")
    String chart;

    @Option(names = "--starved", description = "run inside a network namespace with 1,000 ephemeral ports and "
            + "tcp_tw_reuse=0, so the naive mode runs out of ports for real (Linux, root and iproute2 only)")
    boolean starved;

    @Override
    public Integer call() {
        LabOptions options = options();
        return TimeWaitLab.run(options, parent.out(), parent.err(), parent.unicode());
    }

    /** Checks the flags; a bad one is a {@link ParameterException} naming the flag and the value. */
    LabOptions options() {
        Set<Mode> modes = modes(mode);
        int n = (int) range("--requests", requests, 1, LabOptions.MAX_REQUESTS);
        int threads = (int) range("--concurrency", concurrency, 1, LabOptions.MAX_CONCURRENCY);
        URI uri = target == null ? null : target(target);
        if (uri != null && serverIdleTimeout != null) {
            throw usage("--server-idle-timeout applies to the embedded server only, not with --target " + target);
        }
        if (uri != null && starved) {
            throw usage("--starved runs the embedded server inside a network namespace; it cannot be combined with "
                    + "--target " + target);
        }
        Duration idle = serverIdleTimeout == null ? LabOptions.DEFAULT_SERVER_IDLE_TIMEOUT : serverIdleTimeout;
        checkDuration("--server-idle-timeout", idle, false);
        if (cooldown != null) {
            checkDuration("--cooldown", cooldown, true);
        }
        return new LabOptions(modes, n, threads, Optional.ofNullable(uri), idle, Optional.ofNullable(cooldown),
                Optional.ofNullable(json).map(v -> outputFile("--json", v)),
                Optional.ofNullable(chart).map(v -> outputFile("--chart", v)), starved, forwardable());
    }

    /** The flags as given, but --starved and --help/--version, as {@code --flag=value}. */
    private List<String> forwardable() {
        List<String> flags = new ArrayList<>();
        for (OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
            if (o.longestName().equals("--starved") || o.usageHelp() || o.versionHelp()) {
                continue;
            }
            for (String value : o.originalStringValues()) {
                flags.add(o.longestName() + "=" + value);
            }
        }
        return flags;
    }

    private Set<Mode> modes(String value) {
        Set<Mode> modes = EnumSet.noneOf(Mode.class);
        for (String part : value.split(",", -1)) {
            String name = part.trim().toLowerCase(Locale.ROOT);
            if (name.equals("all")) {
                modes.addAll(EnumSet.allOf(Mode.class));
                continue;
            }
            Mode m = Mode.byName(name);
            if (m == null) {
                throw usage("--mode must be naive, httpclient, portkeeper or all (or a comma-separated list), but was '"
                        + value + "'");
            }
            modes.add(m);
        }
        return modes;
    }

    private long range(String flag, long value, long min, long max) {
        if (value < min || value > max) {
            throw usage(flag + " must be between " + min + " and " + max + ", but was '" + value + "'");
        }
        return value;
    }

    private void checkDuration(String flag, Duration d, boolean zeroAllowed) {
        if (!zeroAllowed && d.isZero()) {
            throw usage(flag + " must be positive, but was '" + original(flag) + "'");
        }
        if (d.compareTo(Duration.ofHours(1)) > 0) {
            throw usage(flag + " must be at most 1 hour, but was '" + original(flag) + "'");
        }
    }

    private String original(String flag) {
        OptionSpec o = spec.findOption(flag);
        List<String> given = o == null ? List.of() : o.originalStringValues();
        return given.isEmpty() ? "" : given.get(given.size() - 1);
    }

    private URI target(String value) {
        URI uri;
        try {
            uri = new URI(value.trim());
        } catch (URISyntaxException e) {
            throw usage("--target must be a URL such as http://127.0.0.1:8080/, but was '" + value + "': " + e.getReason());
        }
        if (uri.getScheme() == null || !uri.getScheme().equalsIgnoreCase("http")) {
            throw usage("--target must be an http:// URL (the naive mode speaks plain HTTP/1.1 on a raw socket), but was '"
                    + value + "'");
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw usage("--target must name a host, as in http://127.0.0.1:8080/, but was '" + value + "'");
        }
        if (uri.getRawUserInfo() != null) {
            throw usage("--target must not carry user info, but was '" + value + "'");
        }
        if (uri.getPort() != -1 && (uri.getPort() < 1 || uri.getPort() > 65_535)) {
            throw usage("--target's port must be between 1 and 65535, but was " + uri.getPort() + " in '" + value + "'");
        }
        return uri;
    }

    private Path outputFile(String flag, String value) {
        return OutputFile.of(spec.commandLine(), flag, value);
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
