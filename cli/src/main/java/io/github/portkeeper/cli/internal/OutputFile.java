package io.github.portkeeper.cli.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/**
 * Checks a flag that names a file to write ({@code --json FILE}, {@code --chart FILE}) before any
 * work starts, so a bad one is a usage error naming the flag and the value, not a failure after a
 * run. Not part of the public API.
 *
 * <p>Thread-safety: stateless.
 */
public final class OutputFile {

    private OutputFile() {
    }

    /**
     * The file {@code value} names, absolute.
     *
     * @param commandLine the command the flag belongs to, for the usage error
     * @param flag        the flag, e.g. {@code --json}
     * @param value       the flag's value as given
     * @return the file, absolute
     * @throws ParameterException if the value is blank, no file name, a directory, or in a directory
     *                            that does not exist
     */
    public static Path of(CommandLine commandLine, String flag, String value) {
        if (value.isBlank()) {
            throw new ParameterException(commandLine, flag + " needs a file name, but was '" + value + "'");
        }
        Path p;
        try {
            p = Path.of(value).toAbsolutePath();
        } catch (RuntimeException e) {
            throw new ParameterException(commandLine, flag + " must be a file name, but was '" + value + "': "
                    + e.getMessage());
        }
        if (Files.isDirectory(p)) {
            throw new ParameterException(commandLine, flag + " must name a file, but '" + value + "' is a directory");
        }
        Path dir = p.getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new ParameterException(commandLine, flag + " must be in an existing directory, but " + dir
                    + " does not exist (was '" + value + "')");
        }
        return p;
    }
}
