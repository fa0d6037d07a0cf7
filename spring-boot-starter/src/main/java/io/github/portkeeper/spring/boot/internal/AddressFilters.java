package io.github.portkeeper.spring.boot.internal;

import org.springframework.boot.http.client.HttpClientSettings;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.InetAddress;
import java.util.function.Predicate;

/**
 * Boot 4.1's {@code HttpClientSettings.inetAddressFilter()}, read where it exists. The starter is
 * compiled against Boot 4.0, which has no address filter: on 4.0 every client has none; on 4.1 a
 * client's filter is applied to the addresses its host resolves to. Looked up once, by name, so
 * no Boot 4.1 type is linked on 4.0 (that was a {@code NoSuchMethodError} at startup).
 */
public final class AddressFilters {

    private static final MethodHandle INET_ADDRESS_FILTER = find();

    private AddressFilters() {
    }

    private static MethodHandle find() {
        try {
            return MethodHandles.publicLookup().findVirtual(HttpClientSettings.class, "inetAddressFilter",
                    MethodType.methodType(Class.forName("org.springframework.boot.http.client.InetAddressFilter", false,
                            HttpClientSettings.class.getClassLoader())));
        } catch (ReflectiveOperationException e) {
            return null; // Boot 4.0: no address filters
        }
    }

    /**
     * Whether this Boot has address filters (4.1 and later).
     *
     * @return true on Boot 4.1+
     */
    public static boolean supported() {
        return INET_ADDRESS_FILTER != null;
    }

    /**
     * The settings' address filter.
     *
     * @param settings Boot's HTTP client settings
     * @return the filter, or null on Boot 4.0 and when the settings have none
     */
    public static Object filter(HttpClientSettings settings) {
        if (INET_ADDRESS_FILTER == null) {
            return null;
        }
        try {
            return INET_ADDRESS_FILTER.invoke(settings);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * The filter as a predicate: {@code InetAddressFilter.matches(InetAddress)}.
     *
     * @param filter a filter {@link #filter} returned, or null
     * @return whether the filter accepts an address; null for no filter
     */
    public static Predicate<InetAddress> accepts(Object filter) {
        if (filter == null) {
            return null;
        }
        MethodHandle matches;
        try {
            Class<?> type = Class.forName("org.springframework.boot.http.client.InetAddressFilter", false,
                    HttpClientSettings.class.getClassLoader());
            matches = MethodHandles.publicLookup().findVirtual(type, "matches", MethodType.methodType(boolean.class, InetAddress.class));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("an address filter without matches(InetAddress): " + filter, e);
        }
        return address -> {
            try {
                return (boolean) matches.invoke(filter, address);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        };
    }
}
