package io.github.portkeeper.examples.jdbc;

import io.github.portkeeper.core.CloseOwningSocketFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import javax.net.SocketFactory;

/**
 * The close-owning socket factory for a JDBC driver that takes its socket factory by class name:
 * PgJDBC's {@code socketFactory=io.github.portkeeper.examples.jdbc.PortkeeperSockets}, in the URL
 * or the properties (with HikariCP, {@code config.addDataSourceProperty("socketFactory", ...)}).
 *
 * <p>The driver instantiates the class itself, once for every connection it opens, so each
 * instance delegates to one shared {@link CloseOwningSocketFactory}: one drain bound, one set of
 * meters ({@code PoolMetrics.of(PortkeeperSockets.SHARED)}, pool tag {@code db}) for all of them.
 * This is the recipe of the project's "Close ownership for clients Portkeeper does not pool"
 * guide, as it is.
 *
 * <p>Thread-safe: every instance delegates to the shared factory, which is.
 */
public final class PortkeeperSockets extends SocketFactory {

    /** The one factory behind every instance the driver makes. */
    static final CloseOwningSocketFactory SHARED = CloseOwningSocketFactory.builder().name("db").build();

    /** What the driver calls, by reflection: every instance shares {@link #SHARED}. */
    public PortkeeperSockets() {
    }

    /** An unconnected socket of the shared factory; PgJDBC connects it with its connect timeout. */
    @Override
    public Socket createSocket() throws IOException {
        return SHARED.createSocket();
    }

    /** A socket of the shared factory connected to {@code host:port}. */
    @Override
    public Socket createSocket(String host, int port) throws IOException {
        return SHARED.createSocket(host, port);
    }

    /** A socket of the shared factory bound to {@code localHost:localPort} and connected to {@code host:port}. */
    @Override
    public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
        return SHARED.createSocket(host, port, localHost, localPort);
    }

    /** A socket of the shared factory connected to {@code host:port}. */
    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
        return SHARED.createSocket(host, port);
    }

    /** A socket of the shared factory bound to {@code localAddress:localPort} and connected to {@code address:port}. */
    @Override
    public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort) throws IOException {
        return SHARED.createSocket(address, port, localAddress, localPort);
    }
}
