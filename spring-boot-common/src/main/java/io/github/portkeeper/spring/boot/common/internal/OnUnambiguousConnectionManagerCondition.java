package io.github.portkeeper.spring.boot.common.internal;

import io.github.portkeeper.http.PortkeeperConnectionManager;
import org.springframework.boot.autoconfigure.condition.AnyNestedCondition;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;

/**
 * Matches unless the application defines two or more {@link PortkeeperConnectionManager} beans
 * and none of them is primary: a bean that takes one manager then backs off, as Boot's own beans
 * do for an ambiguous candidate, instead of stopping startup with a
 * {@code NoUniqueBeanDefinitionException}.
 *
 * <p>"No manager yet" matches too: the starter's own manager is registered after the nested
 * configuration that holds Boot's client builder, and after any manager of the application's.
 */
public final class OnUnambiguousConnectionManagerCondition extends AnyNestedCondition {

    /** Created by Spring from {@code @Conditional}. */
    public OnUnambiguousConnectionManagerCondition() {
        super(ConfigurationPhase.REGISTER_BEAN);
    }

    @ConditionalOnMissingBean(PortkeeperConnectionManager.class)
    static class NoManagerYet {
    }

    @ConditionalOnSingleCandidate(PortkeeperConnectionManager.class)
    static class OneManagerOrAPrimaryOne {
    }
}
