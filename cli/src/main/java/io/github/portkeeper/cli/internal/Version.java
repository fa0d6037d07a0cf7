package io.github.portkeeper.cli.internal;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/**
 * Supplies {@code --version}: the project version the jar was built from, plus the Java runtime.
 * Not part of the public API.
 *
 * <p>Thread-safety: stateless.
 */
public final class Version implements IVersionProvider {

    /** Creates the provider; picocli instantiates it. */
    public Version() {
    }

    /**
     * Returns the version lines.
     *
     * @return "portkeeper VERSION" and the Java runtime's version
     */
    @Override
    public String[] getVersion() {
        return new String[] {"portkeeper " + projectVersion(),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"};
    }

    /**
     * Returns the version recorded at build time.
     *
     * @return e.g. {@code 0.1.0-SNAPSHOT}, or "unknown" if the build left no record
     */
    public static String projectVersion() {
        Properties p = new Properties();
        try (InputStream in = Version.class.getResourceAsStream("/io/github/portkeeper/cli/version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            // no record: unknown
        }
        return p.getProperty("version", "unknown");
    }
}
