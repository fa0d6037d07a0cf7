package io.github.portkeeper.spring.boot.common.internal;

import org.springframework.boot.context.properties.source.ConfigurationProperty;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertySource;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.origin.Origin;
import org.springframework.boot.origin.OriginProvider;
import org.springframework.boot.origin.OriginTrackedValue;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.Environment;
import org.springframework.validation.BindingResult;
import org.springframework.validation.Errors;
import org.springframework.validation.FieldError;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a broken rule ({@code "portkeeper.pool.max-per-endpoint must be at least 1, but was 0"})
 * into a field error that reads like Spring Boot's own binding failures: the property in
 * kebab-case, the value as the user wrote it ({@code "0"}, {@code "-1s"}, not {@code PT-1S}) and
 * its origin (file and line, environment variable...). Boot's failure analysis prints
 * {@code Property}, {@code Value}, {@code Origin} and {@code Reason} from it.
 *
 * <p>A rule between two properties of which only one was written (a {@code max-per-endpoint}
 * above the default {@code max-total}) is reported on the written one, with its value and origin,
 * though the message leads with the other.
 *
 * <p>Boot keeps an error that carries its own origin as it is; a plain {@link FieldError} would be
 * printed with the Java field path ({@code pool.maxPerEndpoint}) and the converted value.
 */
public final class PropertyErrors {

    private static final Pattern LEADING_PROPERTY = Pattern.compile("^([a-z0-9-]+(?:\\.[a-z0-9-]+)*)\\s");
    private static final Pattern BUT_WAS = Pattern.compile(", but was .*$", Pattern.DOTALL);

    private final Errors errors;
    private final Environment environment;
    private final String prefix;
    private final Pattern mentionedProperty;

    /**
     * @param errors      the errors of the object being validated
     * @param environment where to look up values as written; may be null
     * @param prefix      the properties' prefix ({@code portkeeper})
     */
    public PropertyErrors(Errors errors, Environment environment, String prefix) {
        this.errors = errors;
        this.environment = environment;
        this.prefix = prefix;
        this.mentionedProperty = Pattern.compile("\\b" + Pattern.quote(prefix) + "(?:\\.[a-z0-9-]+)+");
    }

    /**
     * Adds the error a message describes; a message that starts with a property under the prefix
     * becomes a field error of that property.
     *
     * @param message the rule broken, starting with the property's full name
     */
    public void add(String message) {
        String property = leadingProperty(message);
        if (property == null || !(errors instanceof BindingResult)) {
            errors.reject("portkeeper.invalid", message);
            return;
        }
        ConfigurationProperty written = find(property);
        Object value;
        String reason;
        if (written != null) {
            value = asWritten(written.getValue());
            reason = BUT_WAS.matcher(message).replaceFirst(", but was \"" + value + "\"");
        } else {
            // The rule names a property left at its default: the one written is the partner the
            // message also names (max-per-endpoint raised above the default max-total).
            written = writtenPartner(message, property);
            if (written != null) {
                property = written.getName().toString();
                value = asWritten(written.getValue());
            } else {
                value = effectiveValue(message);
            }
            reason = message;
        }
        String field = property.substring(prefix.length() + 1);
        ((BindingResult) errors).addError(new PropertyFieldError(errors.getObjectName(), field, value,
                written != null ? written.getOrigin() : null, reason));
    }

    /**
     * The property a message starts with, if it is under the prefix.
     *
     * @param message a rule message
     * @return the property's full name, or null
     */
    String leadingProperty(String message) {
        Matcher m = LEADING_PROPERTY.matcher(message == null ? "" : message);
        if (m.find() && m.group(1).startsWith(prefix + ".")) {
            return m.group(1);
        }
        return null;
    }

    /** The first property other than {@code leading} that the message names and the user wrote. */
    private ConfigurationProperty writtenPartner(String message, String leading) {
        Matcher m = mentionedProperty.matcher(message);
        while (m.find()) {
            String other = m.group();
            if (!other.equals(leading)) {
                ConfigurationProperty found = find(other);
                if (found != null) {
                    return found;
                }
            }
        }
        return null;
    }

    /** What the message says the value was, for a property nobody wrote (its default); null if it says nothing. */
    private static String effectiveValue(String message) {
        Matcher m = BUT_WAS.matcher(message);
        return m.find() ? m.group().substring(", but was ".length()) : null;
    }

    private ConfigurationProperty find(String property) {
        if (!(environment instanceof ConfigurableEnvironment)) {
            return null;
        }
        ConfigurationPropertyName name = ConfigurationPropertyName.of(property);
        for (ConfigurationPropertySource source : ConfigurationPropertySources.get(environment)) {
            ConfigurationProperty found = source.getConfigurationProperty(name);
            if (found != null) {
                return found;
            }
        }
        return null;
    }

    private static Object asWritten(Object value) {
        return value instanceof OriginTrackedValue ? ((OriginTrackedValue) value).getValue() : value;
    }

    /** A field error named as the property is written, that knows where its value came from. */
    static final class PropertyFieldError extends FieldError implements OriginProvider {

        private static final long serialVersionUID = 1L;

        private final transient Origin origin;

        PropertyFieldError(String objectName, String field, Object value, Origin origin, String message) {
            super(objectName, field, value, false, new String[] {"portkeeper.invalid"}, null, message);
            this.origin = origin;
        }

        @Override
        public Origin getOrigin() {
            return origin;
        }
    }
}
