package io.github.portkeeper.core;

import java.net.InetAddress;
import java.net.UnknownHostException;
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
     * <p>An IPv6 literal may come bare ({@code "::1"}) or in one pair of brackets, as
     * {@link java.net.URI#getHost()} returns it ({@code "[::1]"}); the brackets are dropped, so
     * both are the same endpoint, and {@link #host()} returns the bare literal. A host may hold
     * a {@code ':'} only as an IPv6 literal: the port goes in {@code port}, never in the host.
     *
     * @param host a host name or address literal (IPv6 bare or in brackets); not blank, not
     *             beginning or ending with whitespace, no port
     * @param port from 1 to 65535
     * @return the endpoint
     * @throws IllegalArgumentException if the host is blank or begins or ends with whitespace,
     *         holds a {@code ':'} but is no IPv6 literal (such as {@code "db:5432"}), has
     *         brackets around anything but an IPv6 literal, or the port is out of range, naming
     *         the value
     * @throws NullPointerException if the host is {@code null}
     */
    public static Endpoint of(String host, int port) {
        return of(host, port, null);
    }

    /**
     * An endpoint for {@code host:port} whose connections are interchangeable only with those of
     * an equal {@code qualifier} (for example a TLS configuration or a user identity).
     *
     * <p>The host is read as by {@link #of(String, int)}: an IPv6 literal bare or in one pair of
     * brackets (dropped), no port.
     *
     * @param host      a host name or address literal (IPv6 bare or in brackets); not blank, not
     *                  beginning or ending with whitespace, no port
     * @param port      from 1 to 65535
     * @param qualifier an immutable value object, or {@code null} for none
     * @return the endpoint
     * @throws IllegalArgumentException if the host is blank or begins or ends with whitespace,
     *         holds a {@code ':'} but is no IPv6 literal, has brackets around anything but an
     *         IPv6 literal, or the port is out of range, naming the value
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
        return new Endpoint(bareHost(host, port), port, qualifier);
    }

    /**
     * The host without the brackets of a bracketed IPv6 literal. Brackets around anything else,
     * and a ':' in anything but an IPv6 literal ("db:5432"), are refused: such a host would pool
     * apart from its bare form or fail only at connect.
     */
    private static String bareHost(String host, int port) {
        boolean bracketed = host.startsWith("[") && host.endsWith("]") && host.length() > 2;
        String bare = bracketed ? host.substring(1, host.length() - 1) : host;
        if (bare.indexOf('[') >= 0 || bare.indexOf(']') >= 0) {
            throw new IllegalArgumentException("host may be an IPv6 literal in one pair of brackets, as in '[::1]', "
                    + "but was '" + host + "'");
        }
        if (bare.indexOf(':') < 0) {
            if (bracketed) {
                throw new IllegalArgumentException("host may have brackets only around an IPv6 literal, as in '[::1]', "
                        + "but was '" + host + "'");
            }
            return host;
        }
        if (!isIpv6Literal(bare)) {
            int colon = bare.indexOf(':');
            String hint = bracketed || colon == 0 ? "" : " (give the port apart: Endpoint.of(\""
                    + bare.substring(0, colon) + "\", " + port + "))";
            throw new IllegalArgumentException("host holds a ':' but is not an IPv6 literal, and a host takes no port"
                    + hint + "; it was '" + host + "'");
        }
        return bare;
    }

    /**
     * Whether {@code text} is an IPv6 literal, with an optional {@code %zone}. Checked with the
     * JDK's own parser, the one the connectors use later: the address part (before any '%') is
     * made of hex digits, ':' and '.', begins with a hex digit or ':', and holds a ':' itself
     * (the whole host holding one is not enough: "1.2.3.4%eth0:80" would parse as IPv4, "db%1:5432"
     * as the name "db"), so {@link InetAddress#getByName} parses it as a literal and never asks
     * DNS. The zone is not looked up: it names an interface of the host that connects, which need
     * not be this one.
     */
    private static boolean isIpv6Literal(String text) {
        int percent = text.indexOf('%');
        String address = percent < 0 ? text : text.substring(0, percent);
        if (percent == text.length() - 1 || address.indexOf(':') < 0
                || (address.charAt(0) != ':' && Character.digit(address.charAt(0), 16) < 0)) {
            return false;
        }
        for (int i = 0; i < address.length(); i++) {
            char c = address.charAt(i);
            if (c != ':' && c != '.' && Character.digit(c, 16) < 0) {
                return false;
            }
        }
        try {
            return InetAddress.getByName(address) != null;
        } catch (UnknownHostException notALiteral) {
            return false;
        }
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
