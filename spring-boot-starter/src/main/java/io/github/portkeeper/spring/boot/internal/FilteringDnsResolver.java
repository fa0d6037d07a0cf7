package io.github.portkeeper.spring.boot.internal;

import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.SystemDefaultDnsResolver;
import org.springframework.boot.http.client.InetAddressFilter;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies Boot's {@link InetAddressFilter} ({@code HttpClientSettings.inetAddressFilter()}) to the
 * addresses a host resolves to, as Boot's own HttpComponents client does: a host whose addresses
 * are all filtered out cannot be connected to. ({@code resolve(host, port)} is the interface's
 * default, built on {@link #resolve(String)}.)
 */
final class FilteringDnsResolver implements DnsResolver {

    private final DnsResolver delegate = SystemDefaultDnsResolver.INSTANCE;
    private final InetAddressFilter filter;

    FilteringDnsResolver(InetAddressFilter filter) {
        this.filter = filter;
    }

    @Override
    public InetAddress[] resolve(String host) throws UnknownHostException {
        List<InetAddress> kept = new ArrayList<>();
        for (InetAddress a : delegate.resolve(host)) {
            if (filter.matches(a)) {
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
        return new UnknownHostException(host + ": every address it resolves to is rejected by the InetAddressFilter " + filter);
    }
}
