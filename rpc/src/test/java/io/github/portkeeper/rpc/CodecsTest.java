package io.github.portkeeper.rpc;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The built-in codecs, on in-memory streams. */
class CodecsTest {

    @Test
    void lengthPrefixedFramesRoundTrip() throws IOException {
        LengthPrefixedCodec codec = LengthPrefixedCodec.withMaxPayload(16);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        codec.encode("hello".getBytes(StandardCharsets.US_ASCII), out);
        assertThat(out.toByteArray()).containsExactly(0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o');
        assertThat(codec.decode(new ByteArrayInputStream(out.toByteArray()))).asString(StandardCharsets.US_ASCII).isEqualTo("hello");
        assertThat(codec.maxFrameSize()).isEqualTo(20);
    }

    @Test
    void aTwoGigabyteLengthPrefixIsRefusedAfterReadingOnlyThePrefix() {
        LengthPrefixedCodec codec = LengthPrefixedCodec.withMaxPayload(1 << 20);
        CountingInput in = new CountingInput(new byte[] {0x7F, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 1, 2, 3});
        assertThatThrownBy(() -> codec.decode(in))
                .isInstanceOf(IOException.class)
                .hasMessage("frame length 2147483647 exceeds the maximum payload of 1048576 bytes; refused before reading it");
        assertThat(in.read).isEqualTo(4);
    }

    @Test
    void aLengthPrefixWithTheTopBitSetIsReadUnsignedAndRefused() {
        LengthPrefixedCodec codec = LengthPrefixedCodec.withMaxPayload(1024);
        assertThatThrownBy(() -> codec.decode(new ByteArrayInputStream(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF})))
                .hasMessageStartingWith("frame length 4294967295 exceeds");
    }

    @Test
    void aCutShortFrameIsAnEndOfStream() {
        LengthPrefixedCodec codec = LengthPrefixedCodec.withMaxPayload(1024);
        assertThatThrownBy(() -> codec.decode(new ByteArrayInputStream(new byte[] {0, 0, 0, 9, 'a', 'b'})))
                .isInstanceOf(EOFException.class).hasMessage("end of stream after 2 of 9 payload bytes");
        assertThatThrownBy(() -> codec.decode(new ByteArrayInputStream(new byte[] {0, 0})))
                .isInstanceOf(EOFException.class).hasMessage("end of stream after 2 of 4 length prefix bytes");
    }

    @Test
    void anOversizedRequestIsRefusedBeforeAnythingIsWritten() {
        LengthPrefixedCodec codec = LengthPrefixedCodec.withMaxPayload(4);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThatThrownBy(() -> codec.encode(new byte[5], out)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("request payload of 5 bytes exceeds the maximum payload of 4 bytes");
        assertThat(out.size()).isZero();
    }

    @Test
    void linesRoundTripInUtf8AndToleratesCrLf() throws IOException {
        LineCodec codec = LineCodec.utf8(32);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        codec.encode("grüße", out);
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("grüße\n");
        assertThat(codec.decode(new ByteArrayInputStream("grüße\r\n".getBytes(StandardCharsets.UTF_8)))).isEqualTo("grüße");
        assertThat(codec.decode(new ByteArrayInputStream("\n".getBytes(StandardCharsets.UTF_8)))).isEmpty();
    }

    @Test
    void aLineLongerThanTheLimitIsRefusedAsSoonAsTheLimitIsPassed() {
        LineCodec codec = LineCodec.utf8(8);
        CountingInput in = new CountingInput("0123456789abcdef\n".getBytes(StandardCharsets.US_ASCII));
        assertThatThrownBy(() -> codec.decode(in)).hasMessage("line exceeds 8 bytes");
        assertThat(in.read).isEqualTo(10);
        assertThatThrownBy(() -> codec.decode(new ByteArrayInputStream("012345678\r\n".getBytes(StandardCharsets.US_ASCII))))
                .hasMessage("line exceeds 8 bytes");
    }

    @Test
    void invalidUtf8IsAProtocolErrorNotAReplacementCharacter() {
        LineCodec codec = LineCodec.utf8(8);
        assertThatThrownBy(() -> codec.decode(new ByteArrayInputStream(new byte[] {(byte) 0xC3, 0x28, '\n'})))
                .hasMessageStartingWith("response line is not valid UTF-8");
    }

    @Test
    void aRequestWithALineBreakIsRefused() {
        LineCodec codec = LineCodec.utf8(8);
        assertThatThrownBy(() -> codec.encode("a\nb", new ByteArrayOutputStream())).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("request must be a single line, but holds a line break");
    }

    @Test
    void goodbyesAndIdempotency() {
        assertThat(LineCodec.utf8(8).goodbye()).isEmpty();
        assertThat(LineCodec.utf8(8).withGoodbye("QUIT").goodbye()).contains("QUIT");
        assertThat(LengthPrefixedCodec.withMaxPayload(8).withGoodbye(new byte[] {1}).goodbye()).hasValueSatisfying(
                b -> assertThat(b).containsExactly(1));
        LineCodec reads = LineCodec.utf8(8).idempotentWhen(r -> r.startsWith("GET"));
        assertThat(reads.isIdempotent("GET a")).isTrue();
        assertThat(reads.isIdempotent("INCR a")).isFalse();
    }

    @Test
    void aMaximumPayloadOrLineLengthOutOfRangeIsRefusedNamingTheSetting() {
        assertThatThrownBy(() -> LengthPrefixedCodec.withMaxPayload(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxPayloadBytes must be between 1 and 2147483643, but was 0");
        assertThatThrownBy(() -> LengthPrefixedCodec.withMaxPayload(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxPayloadBytes must be between 1 and 2147483643, but was -1");
        assertThatThrownBy(() -> LengthPrefixedCodec.withMaxPayload(Integer.MAX_VALUE - 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxPayloadBytes must be between 1 and 2147483643, but was 2147483644");
        assertThat(LengthPrefixedCodec.withMaxPayload(1).maxFrameSize()).isEqualTo(5);
        assertThatThrownBy(() -> LineCodec.utf8(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxLineBytes must be between 1 and 2147483645, but was 0");
        assertThatThrownBy(() -> LineCodec.utf8(Integer.MAX_VALUE - 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxLineBytes must be between 1 and 2147483645, but was 2147483646");
        assertThat(LineCodec.utf8(1).maxFrameSize()).isEqualTo(3);
    }

    @Test
    void goodbyesThatCouldNeverBeSentAreRefusedNamingTheSettingAndTheValue() {
        assertThatThrownBy(() -> LengthPrefixedCodec.withMaxPayload(4).withGoodbye(new byte[5])).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("goodbyePayload must be at most maxPayload (4 bytes), but was 5 bytes");
        assertThatThrownBy(() -> LineCodec.utf8(8).withGoodbye("GOODBYE!!")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("goodbyeLine must be at most maxLineBytes (8 bytes) in UTF-8, but was 9 bytes");
        assertThatThrownBy(() -> LineCodec.utf8(8).withGoodbye("BYE\r\n")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("goodbyeLine must be a single line without a line end, but holds a line break");
        assertThatThrownBy(() -> LineCodec.utf8(8).idempotentWhen(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("idempotentWhen");
        assertThatThrownBy(() -> LengthPrefixedCodec.withMaxPayload(8).idempotentWhen(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("idempotentWhen");
    }

    /** Counts the bytes a codec consumed. */
    private static final class CountingInput extends InputStream {
        private final byte[] data;
        int read;

        CountingInput(byte[] data) {
            this.data = data;
        }

        @Override
        public int read() {
            return read < data.length ? data[read++] & 0xFF : -1;
        }
    }
}
