package io.github.portkeeper.cli.internal;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Reads a duration flag: {@code 500ms}, {@code 2s}, {@code 1m}, or ISO-8601 such as {@code PT5S}.
 * Not part of the public API.
 *
 * <p>Thread-safety: stateless.
 */
public final class DurationConverter implements ITypeConverter<Duration> {

    private static final Pattern SHORT = Pattern.compile("(\\d{1,9})(ms|s|m)");

    /** Creates the converter; picocli instantiates it. */
    public DurationConverter() {
    }

    /**
     * Converts the flag's value.
     *
     * @param value the text after the flag
     * @return the duration, zero or more
     * @throws TypeConversionException if the text is not a duration
     */
    @Override
    public Duration convert(String value) {
        Matcher m = SHORT.matcher(value.trim().toLowerCase(Locale.ROOT));
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            return switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                default -> Duration.ofMinutes(n);
            };
        }
        try {
            Duration d = Duration.parse(value.trim());
            if (!d.isNegative()) {
                return d;
            }
        } catch (DateTimeParseException e) {
            // fall through to the message below
        }
        throw new TypeConversionException("'" + value + "' is not a duration (e.g. 500ms, 2s, 1m)");
    }
}
