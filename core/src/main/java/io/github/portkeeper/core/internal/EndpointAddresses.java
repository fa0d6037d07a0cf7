package io.github.portkeeper.core.internal;

import io.github.portkeeper.core.Endpoint;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.security.Security;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The socket addresses one endpoint resolves to, for matching the kernel's socket table (the
 * port budget's count of other sockets, the kernel gauges). Each user keeps one per endpoint.
 *
 * <p>{@link #current} never blocks: it answers with what the last lookup found and starts
 * lookups on threads of their own ({@link IdleWatcher#runLookup}), so a slow name server delays
 * neither its caller nor any other endpoint's count. A connector looks the name up again on
 * every connect, through the JVM's DNS cache, and so reaches new addresses once a cached answer
 * expires; so the addresses here are looked up again once older than that cache's time to live
 * ({@code networkaddress.cache.ttl}, else {@code sun.net.inetaddr.ttl}, default 30 s; at least
 * a second; never again if it caches forever). A name that did not resolve is tried again after
 * {@link #RETRY_NANOS}; one that resolved before keeps its addresses meanwhile.
 *
 * <p>Thread-safe.
 */
public final class EndpointAddresses {

    /** How a host name is looked up: a seam for tests, since JDK 17 has no resolver SPI. */
    @FunctionalInterface
    interface Lookup {
        InetAddress[] allByName(String host) throws UnknownHostException;
    }

    /** The JVM's resolver (and its cache); tests put another in its place. */
    static volatile Lookup lookup = InetAddress::getAllByName;

    /** Where a lookup runs: the shared watcher's lookup threads; tests put another in its place. */
    static volatile java.util.function.Consumer<Runnable> lookupRunner = work -> IdleWatcher.shared().runLookup(work);

    /** How long a host name that did not resolve is left alone before the next try. */
    static final long RETRY_NANOS = TimeUnit.SECONDS.toNanos(30);
    /** How long a lookup's answer stands: the JVM's positive DNS cache TTL. */
    static final long REFRESH_NANOS = refreshNanos();

    /** Addresses found by a lookup that started at {@code at} (the caller's ticker time). */
    record Resolved(List<InetSocketAddress> addresses, long at) {
    }

    /** What the last successful lookup found; null before the first. */
    private volatile Resolved resolved;
    private volatile long failedAt = Long.MIN_VALUE / 2;
    private final AtomicBoolean looking = new AtomicBoolean();

    /** Creates one endpoint's addresses, not looked up yet. */
    public EndpointAddresses() {
    }

    /**
     * The endpoint's addresses as the last lookup found them, or null if none has succeeded
     * (yet). Never blocks: starts a lookup if there is none yet (and the last failure is
     * {@link #RETRY_NANOS} old) or the last answer is older than the DNS cache's time to live.
     *
     * @param endpoint    the endpoint these addresses are of (the same every call)
     * @param now         the caller's ticker time
     * @param whenSettled run on the lookup's thread when a lookup found addresses other than
     *                    before, or failed while none were known: what a caller waiting for
     *                    them needs to hear
     * @return the addresses, or null
     */
    public List<InetSocketAddress> current(Endpoint endpoint, long now, Runnable whenSettled) {
        Resolved r = currentResolved(endpoint, now, whenSettled);
        return r == null ? null : r.addresses();
    }

    /** {@link #current}, with when the addresses were looked up. */
    Resolved currentResolved(Endpoint endpoint, long now, Runnable whenSettled) {
        Resolved r = resolved;
        if (isLiteral(endpoint.host())) {
            // An address, not a name: reading it asks no server, and its answer never changes.
            if (r == null) {
                List<InetSocketAddress> found = resolve(endpoint);
                if (!found.isEmpty()) {
                    r = new Resolved(List.copyOf(found), now);
                    resolved = r;
                }
            }
            if (r != null) {
                return r;
            }
        }
        boolean due = now - failedAt >= RETRY_NANOS && (r == null || now - r.at() >= REFRESH_NANOS);
        if (due && looking.compareAndSet(false, true)) {
            try {
                lookupRunner.accept(() -> lookUp(endpoint, now, whenSettled));
            } catch (RuntimeException | Error e) {
                looking.set(false); // no lookup under way: the next call starts one
                throw e;
            }
        }
        return r;
    }

    /** Whether the name did not resolve at its last lookup and none is under way: no addresses to wait for. */
    boolean unresolvable() {
        return !looking.get() && resolved == null && failedAt != Long.MIN_VALUE / 2; // a lookup sets its answer before it ends
    }

    /** What the last lookup found, without starting one; null if none succeeded. */
    Resolved last() {
        return resolved;
    }

    /** Takes the answer of an earlier lookup for the same endpoint, if none is known yet; it expires as it would have. */
    void seed(Resolved earlier) {
        if (resolved == null) {
            resolved = earlier;
        }
    }

    private void lookUp(Endpoint endpoint, long startedAt, Runnable whenSettled) {
        boolean settled;
        try {
            List<InetSocketAddress> found = resolve(endpoint);
            Resolved before = resolved;
            if (found.isEmpty()) {
                failedAt = startedAt;
                settled = before == null;
            } else if (before != null && new HashSet<>(before.addresses()).equals(new HashSet<>(found))) {
                // The same addresses (perhaps in another order): keep the list, a new time.
                resolved = new Resolved(before.addresses(), startedAt);
                settled = false;
            } else {
                resolved = new Resolved(List.copyOf(found), startedAt);
                settled = true;
            }
        } finally {
            looking.set(false);
        }
        if (settled) {
            whenSettled.run();
        }
    }

    /**
     * Whether {@code host} is an address the JDK reads without asking DNS: an IPv6 literal (an
     * {@link Endpoint} holds a ':' only as one, checked when it was made) or a dotted IPv4 quad
     * of octets 0 to 255. A dotted string past that ({@code 999.1.1.1}) is no literal to the JDK,
     * which sends it to DNS: it takes the lookup thread like any name.
     */
    private static boolean isLiteral(String host) {
        if (host.indexOf(':') >= 0) {
            return true;
        }
        if (!IPV4.matcher(host).matches()) {
            return false;
        }
        for (String octet : host.split("\\.")) {
            if (Integer.parseInt(octet) > 255) {
                return false;
            }
        }
        return true;
    }

    private static final java.util.regex.Pattern IPV4 = java.util.regex.Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    /** Every address of the endpoint's host at its port, looked up now; empty if the name does not resolve. */
    private static List<InetSocketAddress> resolve(Endpoint endpoint) {
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

    /**
     * The JVM's positive DNS cache TTL as {@code InetAddressCachePolicy} reads it (the security
     * property, else the system property, else 30 s), at least a second; forever if negative.
     */
    private static long refreshNanos() {
        String ttl = Security.getProperty("networkaddress.cache.ttl");
        if (ttl == null) {
            ttl = System.getProperty("sun.net.inetaddr.ttl");
        }
        long seconds = 30;
        if (ttl != null) {
            try {
                seconds = Long.parseLong(ttl.trim());
            } catch (NumberFormatException ignored) {
                // As the JDK does: a value it cannot read leaves the default.
            }
        }
        if (seconds < 0) {
            return Long.MAX_VALUE;
        }
        return TimeUnit.SECONDS.toNanos(Math.max(1, Math.min(seconds, TimeUnit.DAYS.toSeconds(365))));
    }
}
