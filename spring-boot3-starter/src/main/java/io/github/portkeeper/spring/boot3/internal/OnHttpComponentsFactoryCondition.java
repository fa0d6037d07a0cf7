package io.github.portkeeper.spring.boot3.internal;

import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.type.AnnotatedTypeMetadata;

import java.util.Locale;

/**
 * Matches unless {@code spring.http.client.factory} selects a client other than
 * Apache HttpComponents: an application that asked Boot for the JDK, Jetty or Reactor client
 * keeps it.
 */
public final class OnHttpComponentsFactoryCondition extends SpringBootCondition {

    static final String PROPERTY = "spring.http.client.factory";

    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        String factory = context.getEnvironment().getProperty(PROPERTY);
        if (factory == null || factory.isBlank()) {
            return ConditionOutcome.match(PROPERTY + " is not set");
        }
        String normalized = factory.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        if (normalized.equals("HTTP_COMPONENTS")) {
            return ConditionOutcome.match(PROPERTY + " is " + factory);
        }
        return ConditionOutcome.noMatch(PROPERTY + " is " + factory + ", not http-components");
    }
}
