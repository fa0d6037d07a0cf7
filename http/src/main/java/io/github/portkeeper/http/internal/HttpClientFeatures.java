package io.github.portkeeper.http.internal;

import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.core5.util.TimeValue;

import java.nio.file.Path;

/**
 * What HttpClient has only from 5.6 on: Unix domain socket routes and {@link ConnectionConfig}'s
 * idle timeout. On 5.5 (the line Spring Boot 3.5 and 4.0 manage) neither exists, so there every
 * route is TCP and no idle timeout is set. Each accessor is looked up once: on 5.6 it is then
 * called directly, on 5.5 never.
 */
public final class HttpClientFeatures {

    private static final boolean UNIX_DOMAIN_SOCKETS = hasMethod(HttpRoute.class, "getUnixDomainSocket");
    private static final boolean IDLE_TIMEOUT = hasMethod(ConnectionConfig.class, "getIdleTimeout");

    private HttpClientFeatures() {
    }

    /** The Unix domain socket the route goes through, or null for TCP (always, before HttpClient 5.6). */
    public static Path unixDomainSocket(HttpRoute route) {
        return UNIX_DOMAIN_SOCKETS ? route.getUnixDomainSocket() : null;
    }

    /** The configured idle timeout, or null if none (always, before HttpClient 5.6). */
    public static TimeValue idleTimeout(ConnectionConfig config) {
        return IDLE_TIMEOUT ? config.getIdleTimeout() : null;
    }

    private static boolean hasMethod(Class<?> type, String name) {
        try {
            type.getMethod(name);
            return true;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }
}
