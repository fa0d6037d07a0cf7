package io.github.portkeeper.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** {@link TcpState}: the codes of the {@code st} column of {@code /proc/net/tcp}, both ways. */
class TcpStateTest {

    @Test
    void eachCodeTheKernelPrintsNamesItsState() {
        assertThat(TcpState.fromCode(0x01)).contains(TcpState.ESTABLISHED);
        assertThat(TcpState.fromCode(0x02)).contains(TcpState.SYN_SENT);
        assertThat(TcpState.fromCode(0x03)).contains(TcpState.SYN_RECV);
        assertThat(TcpState.fromCode(0x04)).contains(TcpState.FIN_WAIT1);
        assertThat(TcpState.fromCode(0x05)).contains(TcpState.FIN_WAIT2);
        assertThat(TcpState.fromCode(0x06)).contains(TcpState.TIME_WAIT);
        assertThat(TcpState.fromCode(0x07)).contains(TcpState.CLOSE);
        assertThat(TcpState.fromCode(0x08)).contains(TcpState.CLOSE_WAIT);
        assertThat(TcpState.fromCode(0x09)).contains(TcpState.LAST_ACK);
        assertThat(TcpState.fromCode(0x0A)).contains(TcpState.LISTEN);
        assertThat(TcpState.fromCode(0x0B)).contains(TcpState.CLOSING);
        assertThat(TcpState.fromCode(0x0C)).contains(TcpState.NEW_SYN_RECV);
    }

    @Test
    void aCodeThisEnumDoesNotKnowIsEmptyNotAnException() {
        assertThat(TcpState.fromCode(0x00)).isEmpty();
        assertThat(TcpState.fromCode(0x0D)).as("a state a newer kernel may add").isEmpty();
        assertThat(TcpState.fromCode(0xFF)).isEmpty();
        assertThat(TcpState.fromCode(-1)).isEmpty();
        assertThat(TcpState.fromCode(Integer.MAX_VALUE)).isEmpty();
    }

    @Test
    void everyStateComesBackFromItsOwnCode() {
        assertThat(TcpState.values()).allSatisfy(s -> assertThat(TcpState.fromCode(s.code())).contains(s));
        assertThat(Arrays.stream(TcpState.values()).mapToInt(TcpState::code)).doesNotHaveDuplicates();
    }
}
