package io.github.portkeeper.spring.boot.common.internal;

import io.github.portkeeper.http.PortkeeperConnectionManager;
import io.github.portkeeper.http.PortkeeperConnectionManagerBuilder;
import io.github.portkeeper.spring.boot.common.PortkeeperPools;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundles;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The connection manager each set of Boot HTTP client settings gets. A manager's TLS settings and
 * DNS filter hold for all its connections, and a pooled connection must never serve a client with
 * other TLS settings, so: settings with neither an SSL bundle nor an address filter (Boot 4.1's
 * {@code InetAddressFilter}) share the primary manager (the {@code PortkeeperConnectionManager}
 * bean); each other combination gets a manager of its own, created on first use, named after the
 * primary pool and the bundle ({@code http-mybundle}), registered with {@link PortkeeperPools}
 * (so it has meters and health) and closed with the context.
 *
 * <p>Once closed it makes no more managers: a client built with an SSL bundle or an address filter
 * after the context closed (say, in a {@code @PreDestroy} that runs after this was closed) would
 * get a pool nobody closes, so {@link #managerFor} refuses. A manager being made while it closes
 * is closed too: {@link #close()} waits for it.
 *
 * <p>A bundle registered in {@link SslBundles} is known by its name: Boot replaces the instance
 * when it reloads the bundle, and the clients built after a reload must keep the pool (and its
 * name, the {@code pool} tag of its meters). So must clients built after a reload from an instance
 * the registry held before it (an application may keep the instance it got at startup): every
 * instance the registry held under a name is known by that name ({@link BundleNames}). Its pool's
 * connections take their TLS from the bundle the registry holds when they are opened ({@link
 * CurrentBundleTlsStrategy}). A bundle that is not registered (made with {@code SslBundle.of(...)})
 * is known by its instance, and each instance gets a pool of its own.
 *
 * <p>Thread-safe.
 */
public final class HttpManagers implements AutoCloseable {

    private final PortkeeperConnectionManager primary;
    private final Function<String, PortkeeperConnectionManagerBuilder> builders;
    private final PortkeeperPools pools;
    private final SslBundles sslBundles;
    private final BundleNames bundleNames;
    private final Map<Key, PortkeeperConnectionManager> others = new ConcurrentHashMap<>();
    /**
     * Held shared by {@link #managerFor} while it looks up or makes a manager, and exclusively by
     * {@link #close()} to set {@link #closed}: so a manager is either made before close() looks at
     * {@link #others}, or refused.
     */
    private final ReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed; // guarded by lifecycle

    /**
     * @param primary    the manager for settings without SSL bundle and address filter
     * @param builders   a manager builder with the pool and connection settings, for a pool name
     * @param pools      where new pools are registered
     * @param sslBundles to know bundles by name (the pool outlives their reloads) and name pools after them; may be null
     */
    public HttpManagers(PortkeeperConnectionManager primary, Function<String, PortkeeperConnectionManagerBuilder> builders,
            PortkeeperPools pools, SslBundles sslBundles) {
        this.primary = primary;
        this.builders = builders;
        this.pools = pools;
        this.sslBundles = sslBundles;
        this.bundleNames = BundleNames.watching(sslBundles);
    }

    /**
     * The manager for clients built with an SSL bundle and an address filter.
     *
     * @param bundle the SSL bundle (compared by the name it is or was registered under, else by identity), or null
     * @param filter the address filter as Boot holds it (compared by identity), or null
     * @param accepts whether the filter accepts an address; used only when {@code filter} is not null
     * @return the primary manager when both are null, else the one for the combination
     * @throws IllegalStateException when a bundle or filter is given and this is closed
     */
    public PortkeeperConnectionManager managerFor(SslBundle bundle, Object filter, Predicate<InetAddress> accepts) {
        if (bundle == null && filter == null) {
            return primary;
        }
        String bundleName = bundle != null ? bundleNames.nameOf(bundle) : null;
        Key key = bundleName != null ? new Key(bundleName, null, filter) : new Key(null, bundle, filter);
        lifecycle.readLock().lock();
        try {
            if (closed) {
                throw new IllegalStateException("No HTTP client pool for " + describe(key) + ": the application context is closed,"
                        + " and with it the pools of its HTTP clients; build clients before the context closes");
            }
            return others.computeIfAbsent(key, k -> create(k, bundle, accepts));
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    private static String describe(Key key) {
        String bundle = key.bundleName != null ? "SSL bundle '" + key.bundleName + "'"
                : key.adHocBundle != null ? "SSL bundle " + key.adHocBundle + " (not registered in SslBundles)" : null;
        String filter = key.filter != null ? "address filter " + key.filter : null;
        return bundle == null ? filter : filter == null ? bundle : bundle + " and " + filter;
    }

    /** The managers created for SSL bundles and address filters so far. */
    public List<PortkeeperConnectionManager> others() {
        return new ArrayList<>(others.values());
    }

    private PortkeeperConnectionManager create(Key key, SslBundle bundle, Predicate<InetAddress> accepts) {
        String name = uniqueName(primary.pool().name() + "-" + suffix(key));
        PortkeeperConnectionManagerBuilder b = builders.apply(name);
        if (key.bundleName != null) {
            // The registry's instance, not the one given: that may be one a reload replaced.
            b.setTlsSocketStrategy(new CurrentBundleTlsStrategy(sslBundles, key.bundleName, sslBundles.getBundle(key.bundleName)));
        } else if (bundle != null) {
            b.setTlsSocketStrategy(CurrentBundleTlsStrategy.of(bundle));
        }
        if (key.filter != null) {
            b.setDnsResolver(new FilteringDnsResolver(accepts, key.filter.toString()));
        }
        PortkeeperConnectionManager manager = b.build();
        pools.register(manager.pool());
        return manager;
    }

    private String suffix(Key key) {
        if (key.bundleName == null && key.adHocBundle == null) {
            return "filtered";
        }
        return (key.bundleName != null ? key.bundleName : "ssl") + (key.filter != null ? "-filtered" : "");
    }

    private String uniqueName(String base) {
        String name = base;
        for (int i = 2; nameTaken(name); i++) {
            name = base + "-" + i;
        }
        return name;
    }

    private boolean nameTaken(String name) {
        return pools.pools().stream().anyMatch(p -> p.name().equals(name));
    }

    /**
     * Closes the managers created here (the primary one is the bean's to close), after waiting for
     * those being made, and refuses to make more.
     */
    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            closed = true;
        } finally {
            lifecycle.writeLock().unlock();
        }
        // No managerFor holds the read lock now, and none makes a manager any more.
        for (PortkeeperConnectionManager m : others.values()) {
            m.close();
        }
    }

    /**
     * Settings that need a manager of their own: a registered bundle by its name (it outlives
     * reloads), an unregistered one by identity, and the filter by identity, as Boot holds it.
     */
    private static final class Key {
        final String bundleName;
        final SslBundle adHocBundle;
        final Object filter;

        Key(String bundleName, SslBundle adHocBundle, Object filter) {
            this.bundleName = bundleName;
            this.adHocBundle = adHocBundle;
            this.filter = filter;
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Key)) {
                return false;
            }
            Key k = (Key) o;
            return Objects.equals(k.bundleName, bundleName) && k.adHocBundle == adHocBundle && k.filter == filter;
        }

        @Override
        public int hashCode() {
            return (Objects.hashCode(bundleName) * 31 + System.identityHashCode(adHocBundle)) * 31
                    + System.identityHashCode(filter);
        }
    }
}
