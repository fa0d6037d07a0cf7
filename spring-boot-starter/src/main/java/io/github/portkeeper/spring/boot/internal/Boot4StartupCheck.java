package io.github.portkeeper.spring.boot.internal;

import io.github.portkeeper.spring.boot.common.internal.StartupCheck;

/**
 * Fails startup on a Spring Boot line other than 4.x, naming the version found and the starter
 * to use (registered in {@code META-INF/spring.factories}).
 */
public final class Boot4StartupCheck extends StartupCheck {

    /** Created by Spring Boot from {@code spring.factories}. */
    public Boot4StartupCheck() {
        super("portkeeper-spring-boot-starter", "4.0 and 4.1");
    }

    @Override
    protected boolean supports(int major, int minor) {
        return major == 4;
    }

    @Override
    protected String advice(int major, int minor) {
        if (major == 3 && minor >= 5) {
            return "Use io.github.portkeeper:portkeeper-spring-boot3-starter (Spring Boot 3.5) in place of "
                    + "io.github.portkeeper:portkeeper-spring-boot-starter.";
        }
        if (major == 3) {
            return "Upgrade to Spring Boot 3.5 and use io.github.portkeeper:portkeeper-spring-boot3-starter, or to Spring Boot 4 "
                    + "and keep io.github.portkeeper:portkeeper-spring-boot-starter.";
        }
        return "Use a Spring Boot 4.0 or 4.1 application with io.github.portkeeper:portkeeper-spring-boot-starter, "
                + "or a Portkeeper release that supports Spring Boot " + major + "." + minor + ".";
    }
}
