package io.github.portkeeper.http.testing;

import org.apache.hc.client5.http.ssl.DefaultClientTlsStrategy;
import org.apache.hc.client5.http.ssl.HostnameVerificationPolicy;
import org.apache.hc.client5.http.ssl.NoopHostnameVerifier;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;
import org.apache.hc.client5.http.ssl.TrustAllStrategy;
import org.apache.hc.core5.ssl.SSLContexts;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import java.io.InputStream;
import java.security.KeyStore;

/**
 * The certificate our own TLS test servers present (WireMock's bundled self-signed one, as
 * WireMock's HTTPS port does), and a client TLS strategy that accepts it. For tests only.
 */
public final class TestCertificate {

    private TestCertificate() {
    }

    /** A server context with WireMock's self-signed certificate. */
    public static SSLContext serverContext() throws Exception {
        KeyStore keyStore = KeyStore.getInstance("JKS");
        try (InputStream in = TestCertificate.class.getResourceAsStream("/keystore")) {
            keyStore.load(in, "password".toCharArray()); // WireMock's bundled self-signed certificate
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keyStore, "password".toCharArray());
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(kmf.getKeyManagers(), null, null);
        return context;
    }

    /**
     * Trusts any certificate and no host name check. The policy must be CLIENT: with HttpClient
     * 5.6 the two-argument constructor also lets JSSE check the host name (policy BOTH), which
     * fails on WireMock's certificate (no subject alternative names) whatever the verifier.
     */
    public static TlsSocketStrategy trustingClientTls() throws Exception {
        return new DefaultClientTlsStrategy(SSLContexts.custom().loadTrustMaterial(TrustAllStrategy.INSTANCE).build(),
                HostnameVerificationPolicy.CLIENT, NoopHostnameVerifier.INSTANCE);
    }
}
