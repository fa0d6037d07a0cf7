package io.github.portkeeper.cli.doctor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The files of {@code /proc} the doctor reads, below a root that is {@code /} on a host and
 * another directory where a host's {@code /proc} is mounted elsewhere (a container) or where a
 * test wrote a synthetic one. Everything is read-only.
 */
final class ProcFs {

    /** The sysctls the doctor reads and explains, in the order it prints them. */
    static final List<String> SYSCTLS = List.of("net.ipv4.ip_local_port_range", "net.ipv4.ip_local_reserved_ports",
            "net.ipv4.tcp_tw_reuse",
            "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_max_tw_buckets", "net.ipv4.tcp_timestamps",
            "net.ipv4.tcp_tw_recycle");

    private final Path proc;

    ProcFs(Path root) {
        this.proc = root.resolve("proc");
    }

    Path root() {
        return proc.getParent();
    }

    Path tcp() {
        return proc.resolve("net/tcp");
    }

    Path tcp6() {
        return proc.resolve("net/tcp6");
    }

    boolean hasSocketTables() {
        return Files.exists(tcp()) || Files.exists(tcp6());
    }

    /** The kernel release, e.g. {@code 6.1.0-13-amd64}, or "unknown". */
    String kernel() {
        return readSmall(proc.resolve("sys/kernel/osrelease")).map(String::trim).orElse("unknown");
    }

    /** The sysctls of {@link #SYSCTLS} that exist, blanks folded; absent ones are left out. */
    Map<String, String> sysctls() {
        Map<String, String> values = new LinkedHashMap<>();
        for (String name : SYSCTLS) {
            readSmall(proc.resolve("sys/" + name.replace('.', '/')))
                    .ifPresent(v -> values.put(name, v.trim().replaceAll("\\s+", " ")));
        }
        return values;
    }

    /** A counter of a two-line block such as {@code Tcp: ... ActiveOpens ...} in {@code net/snmp}. */
    OptionalLong counter(String file, String block, String name) {
        Optional<String> text = readSmall(proc.resolve("net/" + file));
        if (text.isEmpty()) {
            return OptionalLong.empty();
        }
        String[] names = null;
        for (String line : text.get().split("\n")) {
            if (!line.startsWith(block + ":")) {
                continue;
            }
            String[] fields = line.substring(block.length() + 1).trim().split("\\s+");
            if (names == null) {
                names = fields;
                continue;
            }
            for (int i = 0; i < names.length && i < fields.length; i++) {
                if (names[i].equals(name)) {
                    try {
                        return OptionalLong.of(Long.parseLong(fields[i]));
                    } catch (NumberFormatException e) {
                        return OptionalLong.empty();
                    }
                }
            }
            return OptionalLong.empty();
        }
        return OptionalLong.empty();
    }

    /** The process directories, {@code /proc/<pid>}. */
    DirectoryStream<Path> processes() throws IOException {
        return Files.newDirectoryStream(proc, p -> isPid(p.getFileName().toString()));
    }

    /** The command line of a process, arguments joined by spaces, else its name, else "?". */
    String command(int pid) {
        Path dir = proc.resolve(Integer.toString(pid));
        try {
            byte[] raw = Files.readAllBytes(dir.resolve("cmdline"));
            if (raw.length > 0) {
                String line = new String(raw, StandardCharsets.UTF_8).replace('\0', ' ').trim();
                // Long command lines (a JVM's class path) keep their start and their end, where the
                // main class and its arguments are.
                return line.length() > 200 ? line.substring(0, 100) + " ... " + line.substring(line.length() - 95) : line;
            }
        } catch (IOException e) {
            // gone, or not ours to read: fall back to the name
        }
        return readSmall(dir.resolve("comm")).map(String::trim).filter(s -> !s.isEmpty()).orElse("?");
    }

    /**
     * When a process started (field 22 of {@code /proc/<pid>/stat}, clock ticks since boot): with
     * the pid, it names one process, as pids are reused. Empty if the process is gone.
     */
    OptionalLong startTime(int pid) {
        Optional<String> stat = readSmall(proc.resolve(pid + "/stat"));
        if (stat.isEmpty()) {
            return OptionalLong.empty();
        }
        // The command name in parentheses may hold blanks and parentheses: count from the last ')'.
        String text = stat.get();
        int close = text.lastIndexOf(')');
        String[] fields = text.substring(close + 1).trim().split("\\s+");
        int index = 22 - 3; // fields[0] is field 3, the state
        if (close < 0 || fields.length <= index) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(fields[index]));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private static boolean isPid(String name) {
        if (name.isEmpty() || name.length() > 10) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            if (name.charAt(i) < '0' || name.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    /**
     * Reads a small {@code /proc} file with one large read: a sysctl file answers only the first
     * read (a read at a later offset is end of file), and {@code Files.readString} starts with a
     * one-byte read on files that report size 0, which would return "4" for "40000 40999".
     */
    static Optional<String> readSmall(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[64 * 1024];
            int n = 0;
            for (int r = in.read(buf, 0, buf.length); r > 0 && n < buf.length; r = in.read(buf, n, buf.length - n)) {
                n += r;
            }
            return Optional.of(new String(buf, 0, n, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
