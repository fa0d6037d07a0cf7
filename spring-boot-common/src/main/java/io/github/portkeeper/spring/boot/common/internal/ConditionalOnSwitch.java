package io.github.portkeeper.spring.boot.common.internal;

import org.springframework.context.annotation.Conditional;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Matches when each of Portkeeper's boolean switches named is on, read as the binder reads it
 * into {@code PortkeeperProperties} ({@code true}, {@code on}, {@code yes}, {@code 1}, any case,
 * surrounding blanks ignored), so that a switch means the same to the beans as to the checks of
 * the properties. Boot's {@code @ConditionalOnBooleanProperty} takes only {@code true} for on:
 * {@code portkeeper.socket-pool.enabled=yes} would bind as on, have the socket pool's settings
 * checked as used, and create no socket pool. A value that is no boolean fails startup with
 * Boot's binding report (property, value, origin).
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@Documented
@Conditional(OnSwitchCondition.class)
public @interface ConditionalOnSwitch {

    /**
     * The switches, each a full property name ({@code portkeeper.http.enabled}); all must be on.
     *
     * @return the property names
     */
    String[] value();

    /**
     * Whether a switch that is not set counts as on.
     *
     * @return the switch's default
     */
    boolean matchIfMissing() default false;
}
