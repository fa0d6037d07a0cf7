package io.github.portkeeper.spring.boot.common.internal;

import io.github.portkeeper.core.PoolConfig;
import io.github.portkeeper.core.SocketPool;
import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.http.PortkeeperConnectionManagerBuilder;
import io.github.portkeeper.http.PortkeeperHttpClients;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import io.github.portkeeper.spring.boot.common.PortkeeperProperties;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.core5.util.Timeout;

/**
 * The beans both starters create the same way, from {@link PortkeeperProperties}: the socket
 * pool, the connection manager and the standalone {@link CloseableHttpClient}. Each created pool
 * is registered with {@link PortkeeperPools} (meters and health); its creator closes it.
 */
public final class PortkeeperBeans {

    private PortkeeperBeans() {
    }

    /**
     * The raw socket pool, with the {@code portkeeper.pool.*} limits and the socket pool's name.
     *
     * @param properties the settings
     * @param pools      where the pool is registered
     * @return the socket pool
     */
    public static SocketPool socketPool(PortkeeperProperties properties, PortkeeperPools pools) {
        PortkeeperProperties.SocketPool s = properties.getSocketPool();
        SocketPool socketPool = SocketPool.builder()
                .poolConfig(properties.toPoolConfig(s.getName()))
                .connectTimeout(s.getConnectTimeout())
                .readTimeout(s.getReadTimeout())
                .build();
        pools.register(socketPool.pool());
        return socketPool;
    }

    /**
     * The primary HTTP connection manager.
     *
     * @param properties the settings
     * @param pools      where the pool is registered
     * @return the manager, named {@code portkeeper.pool.name}
     */
    public static PortkeeperConnectionManager connectionManager(PortkeeperProperties properties, PortkeeperPools pools) {
        PortkeeperConnectionManager manager = managerBuilder(properties, properties.getPool().getName()).build();
        pools.register(manager.pool());
        return manager;
    }

    /**
     * A connection manager builder with the pool and connection settings.
     *
     * @param properties the settings
     * @param poolName   the pool's name
     * @return the builder
     */
    public static PortkeeperConnectionManagerBuilder managerBuilder(PortkeeperProperties properties, String poolName) {
        return managerBuilder(properties, properties.toPoolConfig(poolName));
    }

    /**
     * A connection manager builder with these pool settings and the connection settings.
     *
     * @param properties the settings ({@code portkeeper.http.*} for the connection config)
     * @param poolConfig the pool's settings
     * @return the builder
     */
    public static PortkeeperConnectionManagerBuilder managerBuilder(PortkeeperProperties properties, PoolConfig poolConfig) {
        PortkeeperProperties.Http http = properties.getHttp();
        ConnectionConfig.Builder connection = ConnectionConfig.custom()
                .setConnectTimeout(Timeout.of(http.getConnectTimeout()))
                .setSocketTimeout(Timeout.of(http.getSocketTimeout()));
        return PortkeeperConnectionManager.builder()
                .poolConfig(poolConfig)
                .setDefaultConnectionConfig(connection.build());
    }

    /**
     * A standard {@link CloseableHttpClient} on the shared manager (closing the client leaves the
     * pool open for the others). It waits the manager's own lease timeout for a connection, as
     * {@link PortkeeperHttpClients} sets it (the manager may be the application's).
     *
     * @param manager    the shared manager
     * @param properties the settings
     * @param pools      where the manager's pool is registered
     * @return the client
     */
    public static CloseableHttpClient httpClient(PortkeeperConnectionManager manager, PortkeeperProperties properties,
            PortkeeperPools pools) {
        pools.register(manager.pool());
        HttpClientInstaller installer = installer(properties);
        PortkeeperHttpClients.Builder b = PortkeeperHttpClients.custom()
                .connectionManager(manager)
                .customize(builder -> builder.setConnectionManagerShared(true));
        if (installer.retries()) {
            b.retryConfig(installer.retryConfig());
        } else {
            b.disableRetries();
        }
        return b.build();
    }

    /**
     * How Boot-built clients get the pool and the dead-connection retry.
     *
     * @param properties the settings
     * @return the installer
     */
    public static HttpClientInstaller installer(PortkeeperProperties properties) {
        return new HttpClientInstaller(properties.getRetries().isEnabled(), properties.getRetries().getMaxAttempts());
    }
}
