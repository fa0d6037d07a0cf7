package io.github.portkeeper.cli.internal;

import java.util.Locale;

/**
 * A minimal JSON writer for the command's reports: objects and arrays written in order, with
 * commas placed for the caller. Not part of the public API.
 *
 * <p>Not thread-safe: one writer per document.
 */
public final class Json {

    private final StringBuilder sb = new StringBuilder();
    private boolean needComma;

    /**
     * Starts an object, as a value or as the field {@code name} of the enclosing object.
     *
     * @param name the field name, or {@code null} for a value
     * @return this writer
     */
    public Json begin(String name) {
        key(name);
        sb.append('{');
        needComma = false;
        return this;
    }

    /**
     * Ends the current object.
     *
     * @return this writer
     */
    public Json end() {
        sb.append('}');
        needComma = true;
        return this;
    }

    /**
     * Starts an array, as a value or as the field {@code name}.
     *
     * @param name the field name, or {@code null} for a value
     * @return this writer
     */
    public Json beginArray(String name) {
        key(name);
        sb.append('[');
        needComma = false;
        return this;
    }

    /**
     * Ends the current array.
     *
     * @return this writer
     */
    public Json endArray() {
        sb.append(']');
        needComma = true;
        return this;
    }

    /**
     * Writes a string field or value; {@code null} is written as JSON null.
     *
     * @param name the field name, or {@code null} for a value
     * @param value the string
     * @return this writer
     */
    public Json string(String name, String value) {
        key(name);
        sb.append(value == null ? "null" : quote(value));
        needComma = true;
        return this;
    }

    /**
     * Writes a whole number.
     *
     * @param name the field name, or {@code null} for a value
     * @param value the number
     * @return this writer
     */
    public Json number(String name, long value) {
        key(name);
        sb.append(value);
        needComma = true;
        return this;
    }

    /**
     * Writes a decimal number with up to three decimals; {@code null} is JSON null.
     *
     * @param name the field name, or {@code null} for a value
     * @param value the number
     * @return this writer
     */
    public Json decimal(String name, Double value) {
        key(name);
        sb.append(value == null || value.isNaN() || value.isInfinite() ? "null"
                : String.format(Locale.ROOT, "%.3f", value).replaceAll("\\.?0+$", ""));
        needComma = true;
        return this;
    }

    /**
     * Writes an already-encoded JSON value.
     *
     * @param name the field name, or {@code null} for a value
     * @param json the encoded value
     * @return this writer
     */
    public Json raw(String name, String json) {
        key(name);
        sb.append(json);
        needComma = true;
        return this;
    }

    /** Returns the document written so far. */
    @Override
    public String toString() {
        return sb.toString();
    }

    private void key(String name) {
        if (needComma) {
            sb.append(',');
        }
        if (name != null) {
            sb.append(quote(name)).append(':');
        }
    }

    /**
     * Returns {@code s} as a JSON string literal, quotes and control characters escaped.
     *
     * @param s the text
     * @return the literal, with its quotes
     */
    public static String quote(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }
}
