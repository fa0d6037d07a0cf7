package io.github.portkeeper.spring.boot.common.internal;

import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * Matches unless Boot's client-factory property selects a client other than Apache
 * HttpComponents: an application that asked Boot for the JDK, Jetty or Reactor client keeps it.
 * The property's name differs between Boot lines; each starter names it in a subclass.
 */
public abstract class HttpComponentsFactoryCondition extends SpringBootCondition {

    private final String property;

    /**
     * @param property Boot's property that selects the HTTP client factory
     */
    protected HttpComponentsFactoryCondition(String property) {
        this.property = property;
    }

    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        String factory = context.getEnvironment().getProperty(property);
        if (factory == null || factory.isBlank()) {
            return ConditionOutcome.match(property + " is not set");
        }
        if (canonical(factory).equals("httpcomponents")) {
            return ConditionOutcome.match(property + " is " + factory);
        }
        return ConditionOutcome.noMatch(property + " is " + factory + ", not http-components");
    }

    /**
     * The name as Boot compares it when it binds the property to its enum (its lenient enum
     * converter keeps letters and digits only, lower-cased), so that every spelling Boot reads
     * as {@code HTTP_COMPONENTS} ({@code httpComponents}, {@code http.components} ...) matches
     * here too. Were one missed, Boot would build its own pool for its clients without a word.
     */
    static String canonical(String name) {
        StringBuilder canonical = new StringBuilder(name.length());
        name.chars().filter(Character::isLetterOrDigit).map(Character::toLowerCase)
                .forEach(c -> canonical.append((char) c));
        return canonical.toString();
    }
}
