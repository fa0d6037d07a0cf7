package io.github.portkeeper.spring.boot.common.internal;

import org.springframework.boot.context.properties.bind.BindContext;
import org.springframework.boot.context.properties.bind.BindHandler;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.core.env.Environment;

/**
 * Reads Portkeeper's boolean switches ({@code portkeeper.http.enabled}...) as Boot's
 * {@link Binder} binds a boolean: {@code true}, {@code on}, {@code yes}, {@code 1} (any case,
 * blanks around ignored) is on, {@code false}, {@code off}, {@code no}, {@code 0} is off. The
 * auto-configuration's conditions ({@link OnSwitchCondition}) and the {@link StartupCheck} read
 * them here, so that a switch means the same to each.
 *
 * <p>A value that is no boolean ({@code maybe}) throws the binder's {@code BindException}, which
 * Boot's failure analysis reports with the property, the value as written and its origin. So does
 * a switch written with no value ({@code portkeeper.enabled=}): the binder would read it as not
 * set, and turn on what the user may have meant to turn off.
 */
final class Switches {

    private static final BindHandler REFUSE_BLANK = new BindHandler() {
        @Override
        public void onFinish(ConfigurationPropertyName name, Bindable<?> target, BindContext context, Object result) {
            if (result == null && context.getConfigurationProperty() != null) {
                throw new IllegalArgumentException(name + " must be true or false (or on/off, yes/no, 1/0), but was blank;"
                        + " leave it out for its default");
            }
        }
    };

    private Switches() {
    }

    /**
     * Whether switch {@code name} is on.
     *
     * @param binder          the binder of the environment
     * @param name            the switch's full property name
     * @param ifMissing       what a switch that is not set means
     * @return whether it is on
     * @throws org.springframework.boot.context.properties.bind.BindException if it is set to
     *         something other than a boolean, or to nothing
     */
    static boolean isOn(Binder binder, String name, boolean ifMissing) {
        return binder.bind(name, Bindable.of(Boolean.class), REFUSE_BLANK).orElse(ifMissing);
    }

    /** {@link #isOn(Binder, String, boolean)} on {@code environment}'s binder. */
    static boolean isOn(Environment environment, String name, boolean ifMissing) {
        return isOn(Binder.get(environment), name, ifMissing);
    }
}
