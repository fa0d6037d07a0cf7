package io.github.portkeeper.spring.boot.common.internal;

import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.type.AnnotatedTypeMetadata;

import java.util.Map;

/**
 * The condition of {@link ConditionalOnSwitch}: binds each switch to a {@link Boolean} with
 * Boot's {@link Binder}, the way {@code PortkeeperProperties} gets it. A value the binder cannot
 * convert ({@code maybe}), or none ({@code portkeeper.enabled=}), throws its {@code BindException},
 * which Boot's failure analysis reports with the property, the value as written and its origin.
 * {@link StartupCheck} reads the switches the same way (see {@link Switches}).
 */
public final class OnSwitchCondition extends SpringBootCondition {

    /** Created by Spring from {@code @Conditional}. */
    public OnSwitchCondition() {
    }

    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        Map<String, Object> attributes = metadata.getAnnotationAttributes(ConditionalOnSwitch.class.getName());
        String[] names = (String[]) attributes.get("value");
        boolean matchIfMissing = (Boolean) attributes.get("matchIfMissing");
        Binder binder = Binder.get(context.getEnvironment());
        for (String name : names) {
            boolean on = Switches.isOn(binder, name, matchIfMissing);
            if (!on) {
                return ConditionOutcome.noMatch(name + " is off");
            }
        }
        return ConditionOutcome.match(String.join(", ", names) + (names.length == 1 ? " is on" : " are on"));
    }
}
