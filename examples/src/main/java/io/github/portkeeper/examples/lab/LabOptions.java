package io.github.portkeeper.examples.lab;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The lab's command line, parsed and validated. A bad flag or value is a {@link UsageException}
 * whose message names the flag and the value.
 */
record LabOptions(Set<Mode> modes, int requests, int concurrency, Optional<URI> target,
                  Duration serverIdleTimeout, Optional<Duration> cooldown, Optional<Path> json,
                  Optional<Path> chart, boolean starved, boolean help, List<String> forwardable) {

    static final int DEFAULT_REQUESTS = 5_000;
    static final int DEFAULT_CONCURRENCY = 8;
    static final Duration DEFAULT_SERVER_IDLE_TIMEOUT = Duration.ofSeconds(2);
    static final int MAX_REQUESTS = 10_000_000;
    static final int MAX_CONCURRENCY = 1_024;

    static final String USAGE = String.join("\n",
            "Usage: java -jar portkeeper-lab.jar [flags]",
            "",
            "Fires the same HTTP GET workload three ways and shows, from the kernel's own socket table,",
            "how many TIME_WAIT sockets each leaves on this host:",
            "  naive       a new TCP connection per request; the client closes first",
            "  httpclient  Apache HttpClient 5, HttpClients.createDefault()",
            "  portkeeper  PortkeeperHttpClients: the server closes first",
            "",
            "Flags:",
            "  --mode naive|httpclient|portkeeper|all   modes to run, comma-separated (default all)",
            "  --requests N              requests per mode (default " + DEFAULT_REQUESTS + ")",
            "  --concurrency C           client threads (default " + DEFAULT_CONCURRENCY + ")",
            "  --target URL              an http:// server to load instead of the embedded loopback one",
            "  --server-idle-timeout D   embedded server: close connections idle longer than D, server",
            "                            first (default 2s; e.g. 500ms, 2s, 1m)",
            "  --cooldown D              after the last request, keep the pooled clients open for D before",
            "                            closing them, so the server's idle timeout can close first",
            "                            (default: embedded server idle timeout + 1s, ending early once",
            "                            the server has closed every connection; with --target: 0s)",
            "  --json FILE               also write the figures as JSON",
            "  --chart FILE              also write an SVG chart of client TIME_WAIT over time",
            "  --starved                 run inside a network namespace with 1,000 ephemeral ports and",
            "                            tcp_tw_reuse=0, so the naive mode runs out of ports for real",
            "                            (Linux, root and iproute2 only)",
            "  --help                    this text",
            "",
            "Exit status: 0 after a run, 2 for a bad flag or value (or --starved where it cannot run),",
            "1 if the lab itself failed.");

    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m)");

    /** Parses {@code args}; throws {@link UsageException} naming the offending flag and value. */
    static LabOptions parse(String... args) throws UsageException {
        Set<Mode> modes = EnumSet.allOf(Mode.class);
        int requests = DEFAULT_REQUESTS;
        int concurrency = DEFAULT_CONCURRENCY;
        URI target = null;
        Duration idle = DEFAULT_SERVER_IDLE_TIMEOUT;
        Duration cooldown = null;
        Path json = null;
        Path chart = null;
        boolean starved = false;
        boolean help = false;
        boolean idleGiven = false;
        List<String> forwardable = new ArrayList<>();
        Set<String> seen = new java.util.HashSet<>();

        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String flag = arg;
            String value = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 2) {
                flag = arg.substring(0, eq);
                value = arg.substring(eq + 1);
            }
            if (!flag.startsWith("--")) {
                throw new UsageException("unexpected argument '" + arg + "' (flags start with --; see --help)");
            }
            boolean takesValue = !(flag.equals("--starved") || flag.equals("--help"));
            if (!takesValue && value != null) {
                throw new UsageException(flag + " takes no value, but was given '" + value + "'");
            }
            if (takesValue && value == null) {
                if (i + 1 >= args.length || args[i + 1].startsWith("--")) {
                    throw new UsageException(flag + " needs a value" + hint(flag));
                }
                value = args[++i];
            }
            if (!seen.add(flag)) {
                throw new UsageException(flag + " given twice");
            }
            switch (flag) {
                case "--mode":
                    modes = parseModes(value);
                    break;
                case "--requests":
                    requests = parseInt(flag, value, 1, MAX_REQUESTS);
                    break;
                case "--concurrency":
                    concurrency = parseInt(flag, value, 1, MAX_CONCURRENCY);
                    break;
                case "--target":
                    target = parseTarget(value);
                    break;
                case "--server-idle-timeout":
                    idle = parseDuration(flag, value, false);
                    idleGiven = true;
                    break;
                case "--cooldown":
                    cooldown = parseDuration(flag, value, true);
                    break;
                case "--json":
                    json = parseOutputFile(flag, value);
                    break;
                case "--chart":
                    chart = parseOutputFile(flag, value);
                    break;
                case "--starved":
                    starved = true;
                    break;
                case "--help":
                    help = true;
                    break;
                default:
                    throw new UsageException("unknown flag " + flag + " (see --help)");
            }
            if (!flag.equals("--starved")) {
                forwardable.add(flag + (takesValue ? "=" + value : ""));
            }
        }
        if (target != null && idleGiven) {
            throw new UsageException("--server-idle-timeout applies to the embedded server only, not with --target " + target);
        }
        if (target != null && starved) {
            throw new UsageException("--starved runs the embedded server inside a network namespace; it cannot be combined with --target " + target);
        }
        return new LabOptions(modes, requests, concurrency, Optional.ofNullable(target), idle, Optional.ofNullable(cooldown),
                Optional.ofNullable(json), Optional.ofNullable(chart), starved, help, List.copyOf(forwardable));
    }

    private static String hint(String flag) {
        switch (flag) {
            case "--mode": return " (naive, httpclient, portkeeper or all)";
            case "--requests": return " (a count, e.g. 5000)";
            case "--concurrency": return " (a thread count, e.g. 8)";
            case "--target": return " (a URL, e.g. http://127.0.0.1:8080/)";
            case "--server-idle-timeout":
            case "--cooldown": return " (a duration, e.g. 2s or 500ms)";
            case "--json":
            case "--chart": return " (a file name)";
            default: return "";
        }
    }

    private static Set<Mode> parseModes(String value) throws UsageException {
        Set<Mode> modes = EnumSet.noneOf(Mode.class);
        for (String part : value.split(",", -1)) {
            String name = part.trim().toLowerCase(Locale.ROOT);
            if (name.equals("all")) {
                modes.addAll(EnumSet.allOf(Mode.class));
                continue;
            }
            Mode mode = Mode.byName(name);
            if (mode == null) {
                throw new UsageException("--mode must be naive, httpclient, portkeeper or all (or a comma-separated list), but was '"
                        + value + "'");
            }
            modes.add(mode);
        }
        return modes;
    }

    private static int parseInt(String flag, String value, int min, int max) throws UsageException {
        long n;
        try {
            n = Long.parseLong(value.replace("_", "").trim());
        } catch (NumberFormatException e) {
            throw new UsageException(flag + " must be a whole number, but was '" + value + "'");
        }
        if (n < min || n > max) {
            throw new UsageException(flag + " must be between " + min + " and " + max + ", but was " + value);
        }
        return (int) n;
    }

    /** {@code 500ms}, {@code 2s}, {@code 1m}, or an ISO-8601 duration such as {@code PT2S}. */
    static Duration parseDuration(String flag, String value, boolean zeroAllowed) throws UsageException {
        String v = value.trim().toLowerCase(Locale.ROOT);
        Duration d;
        Matcher m = DURATION.matcher(v);
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            d = m.group(2).equals("ms") ? Duration.ofMillis(n) : m.group(2).equals("s") ? Duration.ofSeconds(n) : Duration.ofMinutes(n);
        } else {
            try {
                d = Duration.parse(value.trim().toUpperCase(Locale.ROOT));
            } catch (RuntimeException e) {
                throw new UsageException(flag + " must be a duration such as 500ms, 2s or 1m, but was '" + value + "'");
            }
        }
        if (d.isNegative() || (!zeroAllowed && d.isZero())) {
            throw new UsageException(flag + " must be " + (zeroAllowed ? "zero or more" : "positive") + ", but was '" + value + "'");
        }
        if (d.compareTo(Duration.ofHours(1)) > 0) {
            throw new UsageException(flag + " must be at most 1 hour, but was '" + value + "'");
        }
        return d;
    }

    private static URI parseTarget(String value) throws UsageException {
        URI uri;
        try {
            uri = new URI(value.trim());
        } catch (URISyntaxException e) {
            throw new UsageException("--target must be a URL such as http://127.0.0.1:8080/, but was '" + value + "': " + e.getReason());
        }
        if (uri.getScheme() == null || !uri.getScheme().equalsIgnoreCase("http")) {
            throw new UsageException("--target must be an http:// URL (the naive mode speaks plain HTTP/1.1 on a raw socket), but was '"
                    + value + "'");
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new UsageException("--target must name a host, as in http://127.0.0.1:8080/, but was '" + value + "'");
        }
        if (uri.getRawUserInfo() != null) {
            throw new UsageException("--target must not carry user info, but was '" + value + "'");
        }
        return uri;
    }

    private static Path parseOutputFile(String flag, String value) throws UsageException {
        if (value.isBlank()) {
            throw new UsageException(flag + " needs a file name, but was '" + value + "'");
        }
        Path p;
        try {
            p = Path.of(value).toAbsolutePath();
        } catch (RuntimeException e) {
            throw new UsageException(flag + " must be a file name, but was '" + value + "': " + e.getMessage());
        }
        if (Files.isDirectory(p)) {
            throw new UsageException(flag + " must name a file, but '" + value + "' is a directory");
        }
        Path dir = p.getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new UsageException(flag + " must be in an existing directory, but " + dir + " does not exist (was '" + value + "')");
        }
        return p;
    }

    /** A bad command line. The message names the flag and the value. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }
}
