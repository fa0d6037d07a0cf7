package io.github.portkeeper.spring.boot.common.internal;

import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.SystemDefaultDnsResolver;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * Applies Boot's address filter ({@code HttpClientSettings.inetAddressFilter()}, Boot 4.1) to the
 * addresses a host resolves to, as Boot's own HttpComponents client does: a host whose addresses
 * are all filtered out cannot be connected to. ({@code resolve(host, port)} is the interface's
 * default, built on {@link #resolve(String)}.)
 */
final class FilteringDnsResolver implements DnsResolver {

    private final DnsResolver delegate = SystemDefaultDnsResolver.INSTANCE;
    private final Predicate<InetAddress> filter;
    private final String description;

    FilteringDnsResolver(Predicate<InetAddress> filter, String description) {
        this.filter = filter;
        this.description = description;
    }

    @Override
    public InetAddress[] resolve(String host) throws UnknownHostException {
        List<InetAddress> kept = new ArrayList<>();
        for (InetAddress a : delegate.resolve(host)) {
            if (filter.test(a)) {
                kept.add(a);
            }
        }
        if (kept.isEmpty()) {
            throw filtered(host);
        }
        return kept.toArray(new InetAddress[0]);
    }

    @Override
    public String resolveCanonicalHostname(String host) throws UnknownHostException {
        return delegate.resolveCanonicalHostname(host);
    }

    private UnknownHostException filtered(String host) {
        return new UnknownHostException(host + ": every address it resolves to is rejected by the address filter " + description);
    }
}
