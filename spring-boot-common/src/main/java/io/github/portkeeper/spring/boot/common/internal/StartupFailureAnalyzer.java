package io.github.portkeeper.spring.boot.common.internal;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * Prints a {@link StartupFailureException} as Boot prints its own startup failures: a
 * description and an action, without a stack trace.
 */
public final class StartupFailureAnalyzer extends AbstractFailureAnalyzer<StartupFailureException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, StartupFailureException cause) {
        return new FailureAnalysis(cause.description(), cause.action(), cause);
    }
}
