package io.github.portkeeper.spring.boot.common.internal;

/**
 * A starter cannot run in this application: wrong Spring Boot line or too old a library. Its
 * message says what was found; {@link #action()} says what to do.
 */
public final class StartupFailureException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    private final String description;
    private final String action;

    /**
     * @param description what was found and why it does not work
     * @param action      what to do about it
     */
    public StartupFailureException(String description, String action) {
        super(description + " " + action);
        this.description = description;
        this.action = action;
    }

    /**
     * What was found and why it does not work.
     *
     * @return the description
     */
    public String description() {
        return description;
    }

    /**
     * What to do about it.
     *
     * @return the action
     */
    public String action() {
        return action;
    }
}
