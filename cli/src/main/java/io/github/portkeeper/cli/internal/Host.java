package io.github.portkeeper.cli.internal;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Facts about this host that decide whether a network namespace can be made here. Not part of
 * the public API.
 *
 * <p>Thread-safety: stateless.
 */
public final class Host {

    private Host() {
    }

    /**
     * Tells whether this process runs with effective user id 0.
     *
     * @return true for root; false where {@code /proc/self/status} cannot be read
     */
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

    /**
     * Finds an executable on the {@code PATH}, or in the usual system directories.
     *
     * @param name the program, e.g. {@code ip}
     * @return its path, or empty if it is not installed
     */
    public static Optional<String> executable(String name) {
        String path = System.getenv().getOrDefault("PATH", "");
        return Stream.concat(Arrays.stream(path.split(File.pathSeparator)), Stream.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"))
                .filter(d -> !d.isEmpty())
                .map(d -> Path.of(d, name))
                .filter(Files::isExecutable)
                .map(Path::toString)
                .findFirst();
    }
}
