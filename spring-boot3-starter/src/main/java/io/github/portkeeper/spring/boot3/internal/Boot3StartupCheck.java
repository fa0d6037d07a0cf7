package io.github.portkeeper.spring.boot3.internal;

import io.github.portkeeper.spring.boot.common.internal.StartupCheck;

/**
 * Fails startup on a Spring Boot line other than 3.5, naming the version found and the starter
 * to use (registered in {@code META-INF/spring.factories}).
 */
public final class Boot3StartupCheck extends StartupCheck {

    /** Created by Spring Boot from {@code spring.factories}. */
    public Boot3StartupCheck() {
        super("portkeeper-spring-boot3-starter", "3.5");
    }

    @Override
    protected boolean supports(int major, int minor) {
        return major == 3 && minor >= 5;
    }

    @Override
    protected String advice(int major, int minor) {
        if (major >= 4) {
            return "Use io.github.portkeeper:portkeeper-spring-boot-starter (Spring Boot 4.0 and 4.1) in place of "
                    + "io.github.portkeeper:portkeeper-spring-boot3-starter.";
        }
        return "Upgrade to Spring Boot 3.5 (or 4.0/4.1 with io.github.portkeeper:portkeeper-spring-boot-starter).";
    }
}
