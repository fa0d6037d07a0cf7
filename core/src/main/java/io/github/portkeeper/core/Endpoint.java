package io.github.portkeeper.core;

import java.util.Objects;

/**
 * Where a connection goes: a host, a port, and whatever else makes connections to the same
 * host and port non-interchangeable (TLS settings, proxy, user identity), carried as an
 * optional {@code qualifier}. A connection leased for one endpoint never serves another.
 *
 * <p>Immutable and safe to share. The qualifier must be immutable and implement
 * {@code equals}/{@code hashCode} by value.
 */
public final class Endpoint {

    private final String host;
    private final int port;
    private final Object qualifier;
    private final int hash;

    private Endpoint(String host, int port, Object qualifier) {
        this.host = host;
        this.port = port;
        this.qualifier = qualifier;
        this.hash = 31 * (31 * host.hashCode() + port) + Objects.hashCode(qualifier);
    }

    /**
     * An endpoint for {@code host:port} with no qualifier.
     *
     * @param host a host name or address literal (IPv6 without brackets); not blank, and not
     *             beginning or ending with whitespace
     * @param port from 1 to 65535
     * @return the endpoint
     * @throws IllegalArgumentException if the host is blank or begins or ends with whitespace, or
     *         the port is out of range, naming the value
     * @throws NullPointerException if the host is {@code null}
     */
    public static Endpoint of(String host, int port) {
        return of(host, port, null);
    }

    /**
     * An endpoint for {@code host:port} whose connections are interchangeable only with those of
     * an equal {@code qualifier} (for example a TLS configuration or a user identity).
     *
     * @param host      a host name or address literal (IPv6 without brackets); not blank, and
     *                  not beginning or ending with whitespace
     * @param port      from 1 to 65535
     * @param qualifier an immutable value object, or {@code null} for none
     * @return the endpoint
     * @throws IllegalArgumentException if the host is blank or begins or ends with whitespace, or
     *         the port is out of range, naming the value
     * @throws NullPointerException if the host is {@code null}
     */
    public static Endpoint of(String host, int port, Object qualifier) {
        Objects.requireNonNull(host, "host");
        if (host.isBlank()) {
            throw new IllegalArgumentException("host must not be blank, but was '" + host + "'");
        }
        if (host.strip().length() != host.length()) {
            // No resolver reads " db" as "db": it would fail at connect, or pool apart from "db".
            throw new IllegalArgumentException("host must not begin or end with whitespace, but was '" + host + "'");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port must be between 1 and 65535, but was " + port);
        }
        return new Endpoint(host, port, qualifier);
    }

    /**
     * The host, as given: the pool does not resolve or normalise it, so {@code "localhost"} and
     * {@code "127.0.0.1"} are different endpoints.
     *
     * @return the host name or address literal
     */
    public String host() {
        return host;
    }

    /**
     * The TCP port.
     *
     * @return from 1 to 65535
     */
    public int port() {
        return port;
    }

    /**
     * What else tells this endpoint's connections apart.
     *
     * @return the qualifier, or {@code null} if connections are told apart by host and port alone
     */
    public Object qualifier() {
        return qualifier;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Endpoint)) {
            return false;
        }
        Endpoint other = (Endpoint) o;
        return hash == other.hash && port == other.port && host.equals(other.host)
                && Objects.equals(qualifier, other.qualifier);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    /** {@code host:port}, the form used in metric tags and error messages. */
    @Override
    public String toString() {
        return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
    }
}
