package io.github.portkeeper.http;

import io.github.portkeeper.http.internal.HttpClientFeatures;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.util.VersionInfo;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The tests run on the HttpClient and HttpCore the build says they run on: the declared ones, and
 * in a second run the older line Spring Boot 3.5 and 4.0 manage. Without this, that run could
 * silently test the newer line again.
 */
class HttpClientLineTest {

    @Test
    void testsRunOnTheHttpClientAndHttpCoreTheBuildNames() {
        String client = System.getProperty("portkeeper.test.httpclient5");
        String core = System.getProperty("portkeeper.test.httpcore5");
        assumeTrue(client != null && core != null, "run by Maven, which names the expected versions");
        ClassLoader loader = HttpRoute.class.getClassLoader();
        assertThat(VersionInfo.loadVersionInfo("org.apache.hc.client5", loader).getRelease()).isEqualTo(client);
        assertThat(VersionInfo.loadVersionInfo("org.apache.hc.core5", loader).getRelease()).isEqualTo(core);
    }

    @Test
    void aTcpRouteHasNoUnixDomainSocketOnEitherLine() {
        // On 5.6 the accessor is called, on 5.5 it is not there; either way a TCP route is TCP.
        assertThat(HttpClientFeatures.unixDomainSocket(new HttpRoute(new HttpHost("localhost", 80)))).isNull();
    }
}
