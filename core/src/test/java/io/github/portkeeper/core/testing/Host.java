package io.github.portkeeper.core.testing;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What the tests that need the machine (network namespaces, {@code /proc/sys}) ask of it: whether
 * it is Linux and we are root, where {@code ip}, {@code sysctl} and {@code unshare} live, running
 * short commands and child JVMs on this test's class path, and reading {@code /proc/sys} files
 * correctly.
 */
public final class Host {

    /** Children print their figures as lines {@code RESULT key=value} (the value may hold spaces). */
    public static final String RESULT_PREFIX = "RESULT ";

    private static final long COMMAND_TIMEOUT_SECONDS = 15;

    private Host() {
    }

    public static boolean isLinux() {
        return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");
    }

    public static boolean isRoot() {
        try {
            // "Uid:	real	effective	saved	fs"
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:"))
                    .map(l -> l.split("\\s+"))
                    .anyMatch(f -> f.length > 2 && f[2].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }

    public static Optional<String> executable(String name) {
        String path = System.getenv().getOrDefault("PATH", "");
        return Stream.concat(Arrays.stream(path.split(File.pathSeparator)), Stream.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"))
                .filter(d -> !d.isEmpty())
                .map(d -> Path.of(d, name))
                .filter(Files::isExecutable)
                .map(Path::toString)
                .findFirst();
    }

    /**
     * Reads a {@code /proc/sys} file with one read. Not {@code Files.readString}/readAllBytes:
     * these files report size 0, and the sysctl handlers answer a read at a non-zero offset with
     * end of file, so a JDK that starts with a 1-byte read sees just the first character.
     */
    public static String readSysctl(String path) throws IOException {
        try (InputStream in = Files.newInputStream(Path.of(path))) {
            byte[] buf = new byte[4096];
            int n = in.read(buf);
            return n <= 0 ? "" : new String(buf, 0, n, StandardCharsets.US_ASCII).trim();
        }
    }

    /** The command that starts {@code main} in a fresh JVM with this JVM's class path. */
    public static List<String> java(Class<?> main, String... args) {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"),
                main.getName()));
        command.addAll(List.of(args));
        return command;
    }

    /** A finished command: exit code and merged output. */
    public record Result(List<String> command, int exitCode, String output) {
        @Override
        public String toString() {
            return String.join(" ", command) + " -> exit " + exitCode + ": " + output.trim();
        }
    }

    /** Runs a short command, output and errors merged, killed after 15 s. */
    public static Result run(List<String> command) throws IOException, InterruptedException {
        return run(command, COMMAND_TIMEOUT_SECONDS);
    }

    public static Result run(List<String> command, long timeoutSeconds) throws IOException, InterruptedException {
        Path log = Files.createTempFile("pk-budget-cmd", ".log");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean exited = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
            if (!exited) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            return new Result(List.copyOf(command), exited ? p.exitValue() : -1,
                    exited ? output : output + " (timed out after " + timeoutSeconds + " s)");
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** The {@code RESULT key=value} lines of a child's output, in order. */
    public static Map<String, String> results(String output) {
        Map<String, String> map = new LinkedHashMap<>();
        output.lines().filter(l -> l.startsWith(RESULT_PREFIX)).forEach(l -> {
            String kv = l.substring(RESULT_PREFIX.length());
            int eq = kv.indexOf('=');
            if (eq > 0) {
                map.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        });
        return map;
    }

    public static String tail(String s) {
        return s.length() <= 12_000 ? s : "...\n" + s.substring(s.length() - 12_000);
    }
}
