package io.github.portkeeper.spring.boot.common.internal;

import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.client5.http.ssl.DefaultHostnameVerifier;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.ssl.SslOptions;

import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.Socket;

/**
 * TLS for the pool of a registered SSL bundle: each new connection uses the bundle the registry
 * holds under that name now. Boot replaces a bundle's instance when it reloads it (a rotated
 * certificate), and the pool outlives the reload, since clients built before and after it share
 * it; so the strategy cannot be fixed when the pool is made. The strategy for one bundle instance
 * is built once and reused until the registry holds another.
 *
 * <p>Thread-safe: two connections racing past a reload may both build the new strategy; either
 * one is right.
 */
final class CurrentBundleTlsStrategy implements TlsSocketStrategy {

    private final SslBundles bundles;
    private final String name;
    private volatile Built built;

    /**
     * @param bundles the registry
     * @param name    the bundle's name in it
     * @param bundle  the bundle it holds now; its strategy is built at once, so that bad material
     *                fails when the client is built, not on its first request
     */
    CurrentBundleTlsStrategy(SslBundles bundles, String name, SslBundle bundle) {
        this.bundles = bundles;
        this.name = name;
        this.built = new Built(bundle, of(bundle));
    }

    @Override
    public SSLSocket upgrade(Socket socket, String target, int port, Object attachment, HttpContext context) throws IOException {
        return current().strategy.upgrade(socket, target, port, attachment, context);
    }

    private Built current() throws SSLException {
        try {
            SslBundle bundle = bundles.getBundle(name);
            Built b = built;
            if (b.bundle != bundle) {
                b = new Built(bundle, of(bundle));
                built = b;
            }
            return b;
        } catch (RuntimeException e) {
            throw new SSLException("SSL bundle '" + name + "' could not be loaded", e);
        }
    }

    /** A strategy with the bundle's SSL context, protocols and ciphers, checking host names. */
    static DefaultClientTlsStrategy of(SslBundle bundle) {
        SslOptions options = bundle.getOptions();
        return new DefaultClientTlsStrategy(bundle.createSslContext(), options.getEnabledProtocols(), options.getCiphers(), null,
                new DefaultHostnameVerifier());
    }

    private static final class Built {
        final SslBundle bundle;
        final TlsSocketStrategy strategy;

        Built(SslBundle bundle, TlsSocketStrategy strategy) {
            this.bundle = bundle;
            this.strategy = strategy;
        }
    }
}
