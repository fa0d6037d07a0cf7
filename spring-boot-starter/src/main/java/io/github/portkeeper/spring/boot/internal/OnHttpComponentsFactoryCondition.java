package io.github.portkeeper.spring.boot.internal;

import io.github.portkeeper.spring.boot.common.internal.HttpComponentsFactoryCondition;

/**
 * Matches unless {@code spring.http.clients.imperative.factory} selects a client other than
 * Apache HttpComponents: an application that asked Boot for the JDK, Jetty or Reactor client
 * keeps it.
 */
public final class OnHttpComponentsFactoryCondition extends HttpComponentsFactoryCondition {

    /** Boot's property that selects the HTTP client factory on this line. */
    public static final String PROPERTY = "spring.http.clients.imperative.factory";

    /** Created by Spring from {@code @Conditional}. */
    public OnHttpComponentsFactoryCondition() {
        super(PROPERTY);
    }
}
