package io.github.portkeeper.spring.boot.common.internal;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Rewrites the validation messages of {@code PoolConfig}, {@code Retirement} and
 * {@code PortBudget}, which name the builder setting ({@code maxPerEndpoint must be at least 1,
 * but was 0}), to name the Spring property instead
 * ({@code portkeeper.pool.max-per-endpoint must be at least 1, but was 0}). The rules stay in
 * core; only the names change here.
 */
public final class PropertyMessages {

    /** Phrases of core's messages, longest first, and the property each stands for. */
    private static final Map<String, String> PHRASES = new LinkedHashMap<>();

    static {
        PHRASES.put("retirement drainTimeout", "portkeeper.retirement.drain-timeout");
        PHRASES.put("retirement fallback", "portkeeper.retirement.fallback");
        PHRASES.put("retirement policy", "portkeeper.retirement.policy");
        PHRASES.put("port budget share", "portkeeper.port-budget.share");
        for (String setting : new String[] {"maxPerEndpoint", "maxTotal", "leaseTimeout", "maxLifetime", "lifetimeJitter",
                "maxIdleTime", "leakDetectionThreshold", "maxLeasesPerConnection", "idleTimeoutMargin", "housekeepingInterval"}) {
            PHRASES.put(setting, "portkeeper.pool." + kebab(setting));
        }
    }

    private PropertyMessages() {
    }

    /** The message with every setting name replaced by its property name. */
    public static String toPropertyMessage(String message) {
        if (message == null) {
            return "invalid portkeeper.* settings";
        }
        if (message.startsWith("name must not be blank")) {
            return "portkeeper.pool.name" + message.substring("name".length());
        }
        String out = message;
        for (Map.Entry<String, String> e : PHRASES.entrySet()) {
            out = out.replaceAll("\\b" + Pattern.quote(e.getKey()) + "\\b", Matcher.quoteReplacement(e.getValue()));
        }
        return out;
    }

    private static String kebab(String camel) {
        StringBuilder out = new StringBuilder();
        for (char c : camel.toCharArray()) {
            if (Character.isUpperCase(c)) {
                out.append('-').append(Character.toLowerCase(c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
