package io.github.portkeeper.spring.boot.common.internal;

import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundles;

import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.List;

/**
 * The name under which Boot's registry holds, or held, an SSL bundle instance. Boot replaces a
 * bundle's instance when it reloads it, and an application may still hold the instance it got
 * before (a bean made at startup that builds its clients later); such an instance is the same
 * bundle, so it must find the bundle's pool and name. The registry answers only for the instance
 * it holds now, so every instance it held under a name since this was made is remembered, weakly
 * (an instance nobody holds cannot be asked about). Reloads are rare (a rotated certificate), so
 * the list stays short; cleared entries are dropped as new ones come.
 *
 * <p>Thread-safe: the registry's handlers run on its reloading thread, lookups on the threads
 * that build clients.
 */
final class BundleNames {

    private final SslBundles bundles;
    private final List<Held> held = new ArrayList<>();

    private BundleNames(SslBundles bundles) {
        this.bundles = bundles;
    }

    /**
     * Names for the bundles of {@code bundles}: remembers the instances it holds now and, through
     * its update and register handlers, every one it holds later.
     *
     * @param bundles Boot's SSL bundles, or null (then no bundle has a name)
     * @return the names
     */
    static BundleNames watching(SslBundles bundles) {
        BundleNames names = new BundleNames(bundles);
        if (bundles != null) {
            try {
                bundles.addBundleRegisterHandler(names::watch);
            } catch (RuntimeException unsupported) {
                // A registry of the application's own may not take handlers; the bundles it holds
                // now are still found by asking it.
            }
            for (String name : bundles.getBundleNames()) {
                try {
                    names.watch(name, bundles.getBundle(name));
                } catch (RuntimeException ignored) {
                    // A bundle that cannot be loaded is no instance anyone holds.
                }
            }
        }
        return names;
    }

    /**
     * The name {@code bundle} is registered under, or was until a reload replaced it.
     *
     * @param bundle an SSL bundle
     * @return its name, or null for a bundle that was never registered (made with {@code SslBundle.of})
     */
    String nameOf(SslBundle bundle) {
        if (bundles == null) {
            return null;
        }
        for (String name : bundles.getBundleNames()) {
            try {
                if (bundles.getBundle(name) == bundle) {
                    return name;
                }
            } catch (RuntimeException ignored) {
                // A bundle that cannot be loaded is not the one in use.
            }
        }
        synchronized (held) {
            for (Held h : held) {
                if (h.bundle.get() == bundle) {
                    return h.name;
                }
            }
        }
        return null;
    }

    private void watch(String name, SslBundle bundle) {
        remember(name, bundle);
        try {
            bundles.addBundleUpdateHandler(name, reloaded -> remember(name, reloaded));
        } catch (RuntimeException unsupported) {
            // Without update handlers only the instance the registry holds now has a name.
        }
    }

    private void remember(String name, SslBundle bundle) {
        synchronized (held) {
            held.removeIf(h -> h.bundle.get() == null);
            held.add(new Held(name, bundle));
        }
    }

    private static final class Held {
        final String name;
        final WeakReference<SslBundle> bundle;

        Held(String name, SslBundle bundle) {
            this.name = name;
            this.bundle = new WeakReference<>(bundle);
        }
    }
}
