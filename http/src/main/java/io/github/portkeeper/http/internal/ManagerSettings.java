package io.github.portkeeper.http.internal;

import io.github.portkeeper.http.PortkeeperConnectionManager;
import org.apache.hc.client5.http.config.ConnectionConfig;

import java.util.Objects;
import java.util.function.Function;

/**
 * Reads the settings a {@link PortkeeperConnectionManager} keeps but does not publish, for
 * Portkeeper's own modules: the Spring Boot starters give the pools they derive from an
 * application's manager (for SSL bundles and address filters) that manager's connection settings.
 *
 * <p>Why not a public getter: the manager mirrors HttpClient's
 * {@code PoolingHttpClientConnectionManager}, which has {@code setDefaultConnectionConfig} and no
 * getter (it keeps the config only inside a resolver), so a getter would be API of ours alone.
 * The manager installs the reader when its class is initialised, which has happened before
 * there is a manager to read (OkHttp's {@code Internal.instance} does the same).
 *
 * <p>Thread-safe.
 */
public final class ManagerSettings {

    private static volatile Function<PortkeeperConnectionManager, ConnectionConfig> defaultConnectionConfig;

    private ManagerSettings() {
    }

    /**
     * Called once, by the manager's class initialiser.
     *
     * @param reader reads a manager's default connection config
     */
    public static void install(Function<PortkeeperConnectionManager, ConnectionConfig> reader) {
        if (defaultConnectionConfig != null) {
            throw new IllegalStateException("ManagerSettings is installed by PortkeeperConnectionManager alone");
        }
        defaultConnectionConfig = Objects.requireNonNull(reader, "reader");
    }

    /**
     * The connection settings of routes the manager's resolver does not cover: the builder's
     * {@code setDefaultConnectionConfig}, or the last {@code setDefaultConnectionConfig} call.
     *
     * @param manager the manager
     * @return its default connection config, never null
     */
    public static ConnectionConfig defaultConnectionConfig(PortkeeperConnectionManager manager) {
        Objects.requireNonNull(manager, "manager");
        return defaultConnectionConfig.apply(manager);
    }
}
