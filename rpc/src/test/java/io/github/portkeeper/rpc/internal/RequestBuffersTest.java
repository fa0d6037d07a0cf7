package io.github.portkeeper.rpc.internal;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The spare request buffers of a client: reused by the next call, never left large. */
class RequestBuffersTest {

    @Test
    void aBufferALargeRequestLeftLargeIsDroppedAsSoonAsItsCallEnds() {
        RequestBuffers buffers = new RequestBuffers();
        RequestBuffer buffer = buffers.take();
        buffer.write(new byte[1 << 20], 0, 1 << 20);
        assertThat(buffer.capacity()).isGreaterThanOrEqualTo(1 << 20);

        buffers.giveBack(buffer);

        assertThat(buffer.capacity()).as("bytes kept once the call is over").isLessThanOrEqualTo(64 * 1024);
        RequestBuffer next = buffers.take();
        assertThat(next.size()).isZero();
        assertThat(next.capacity()).isLessThanOrEqualTo(64 * 1024);
    }

    @Test
    void theNextCallOnTheSameThreadReusesTheBufferEmptied() {
        RequestBuffers buffers = new RequestBuffers();
        RequestBuffer buffer = buffers.take();
        buffer.write(new byte[100], 0, 100);
        buffers.giveBack(buffer);

        RequestBuffer next = buffers.take();
        assertThat(next).isSameAs(buffer);
        assertThat(next.size()).isZero();
    }

    @Test
    void aBufferTakenIsNeverHandedOutAgainUntilItIsGivenBack() {
        RequestBuffers buffers = new RequestBuffers();
        RequestBuffer first = buffers.take();
        RequestBuffer second = buffers.take(); // a nested call on the same thread, say
        assertThat(second).isNotSameAs(first);
        buffers.giveBack(second);
        buffers.giveBack(first);
    }
}
