package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/** The socket addresses an endpoint resolves to, for matching the kernel's socket table. */
public final class EndpointAddresses {

    /** How a host name is looked up: a seam for tests, since JDK 17 has no resolver SPI. */
    @FunctionalInterface
    interface Lookup {
        InetAddress[] allByName(String host) throws UnknownHostException;
    }

    /** The JVM's resolver (and its cache); tests put another in its place. */
    static volatile Lookup lookup = InetAddress::getAllByName;

    private EndpointAddresses() {
    }

    /** Every address of the endpoint's host at its port; empty if the name does not resolve now. */
    public static List<InetSocketAddress> resolve(Endpoint endpoint) {
        List<InetSocketAddress> out = new ArrayList<>();
        try {
            for (InetAddress a : lookup.allByName(endpoint.host())) {
                out.add(new InetSocketAddress(a, endpoint.port()));
            }
        } catch (UnknownHostException ignored) {
            // Not resolvable now: nothing can be connected to it either.
        }
        return out;
    }
}
