package io.github.portkeeper.core.internal;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ProcNetTcpParserTest {

    private static final String TCP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr"
            + " tm->when retrnsmt   uid  timeout inode\n";
    private static final String TCP6_HEADER = "  sl  local_address                         remote_address"
            + "                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    private static final int LOOPBACK = 0x7F00_0001;
    private static final int TIME_WAIT = 0x06;
    private static final int ESTABLISHED = 0x01;
    private static final int CLOSE_WAIT = 0x08;
    private static final int LISTEN = 0x0A;

    /** A line as the kernel prints it, with the columns the parser does not read. */
    private static String line(int slot, String local, String remote, String state) {
        return String.format("%4d: %s %s %s 00000000:00000000 03:00000F2B 00000000     0        0 0 3"
                + " 0000000000000000\n", slot, local, remote, state);
    }

    private static ProcNetTcpParser littleEndian() {
        return new ProcNetTcpParser(ByteOrder.LITTLE_ENDIAN);
    }

    private static byte[] ascii(String text) {
        return text.getBytes(US_ASCII);
    }

    @Test
    void ipv4LineYieldsRemoteAddressPortLocalPortAndState() {
        ProcNetTcpParser parser = littleEndian().parse(ascii(
                TCP_HEADER + line(0, "0100007F:1F90", "0100007F:C350", "06")));

        ProcNetTcpParser.Sockets sockets = parser.toSockets();

        assertThat(sockets.size()).isEqualTo(1);
        assertThat(sockets.ipv4Count()).isEqualTo(1);
        assertThat(sockets.countToRemoteV4(TIME_WAIT, LOOPBACK, 0xC350)).isEqualTo(1);
        assertThat(sockets.countToRemoteV4(TIME_WAIT, LOOPBACK, 0x1F90)).isZero();
        assertThat(sockets.countToRemoteV4(ESTABLISHED, LOOPBACK, 0xC350)).isZero();
        assertThat(sockets.countOnLocalPort(TIME_WAIT, 8080)).isEqualTo(1);
        assertThat(parser.skippedLines()).as("the header").isEqualTo(1);
    }

    @Test
    void ipv4WordsAreReadInTheHostByteOrder() {
        // 10.1.2.3 printed by a little-endian host is 0302010A, by a big-endian one 0A010203.
        int address = 0x0A01_0203;

        ProcNetTcpParser.Sockets little = littleEndian()
                .parse(ascii(line(0, "00000000:0050", "0302010A:01BB", "01"))).toSockets();
        ProcNetTcpParser.Sockets big = new ProcNetTcpParser(ByteOrder.BIG_ENDIAN)
                .parse(ascii(line(0, "00000000:0050", "0A010203:01BB", "01"))).toSockets();

        assertThat(little.countToRemoteV4(ESTABLISHED, address, 443)).isEqualTo(1);
        assertThat(big.countToRemoteV4(ESTABLISHED, address, 443)).isEqualTo(1);
    }

    @Test
    void ipv6LineYieldsTheAddressAsTwoLongs() {
        // 2001:db8::1 port 443, and ::1 port 8080, on a little-endian host.
        String documentation = "B80D0120" + "00000000" + "00000000" + "01000000";
        String loopback = "00000000" + "00000000" + "00000000" + "01000000";

        ProcNetTcpParser.Sockets sockets = littleEndian().parse(ascii(TCP6_HEADER
                + line(0, loopback + ":D431", documentation + ":01BB", "01")
                + line(1, loopback + ":1F90", "00000000000000000000000000000000:0000", "0A")))
                .toSockets();

        assertThat(sockets.ipv6Count()).isEqualTo(2);
        assertThat(sockets.ipv4Count()).isZero();
        assertThat(sockets.countToRemoteV6(ESTABLISHED, 0x2001_0DB8_0000_0000L, 1L, 443)).isEqualTo(1);
        assertThat(sockets.countToRemoteV6(ESTABLISHED, 0, 1L, 443)).isZero();
        assertThat(sockets.countOnLocalPort(LISTEN, 8080)).isEqualTo(1);
        assertThat(sockets.countOnLocalPort(ESTABLISHED, 0xD431)).isEqualTo(1);
    }

    @Test
    void ipv4MappedIpv6AddressIsStoredAsIpv4() {
        // ::ffff:127.0.0.1, as every socket of a dual-stack Java process shows it.
        String mappedLittle = "0000000000000000" + "FFFF0000" + "0100007F";
        String mappedBig = "0000000000000000" + "0000FFFF" + "7F000001";

        ProcNetTcpParser.Sockets little = littleEndian()
                .parse(ascii(line(0, mappedLittle + ":C350", mappedLittle + ":1F90", "08"))).toSockets();
        ProcNetTcpParser.Sockets big = new ProcNetTcpParser(ByteOrder.BIG_ENDIAN)
                .parse(ascii(line(0, mappedBig + ":C350", mappedBig + ":1F90", "08"))).toSockets();

        for (ProcNetTcpParser.Sockets sockets : List.of(little, big)) {
            assertThat(sockets.ipv4Count()).isEqualTo(1);
            assertThat(sockets.ipv6Count()).isZero();
            assertThat(sockets.countToRemoteV4(CLOSE_WAIT, LOOPBACK, 8080)).isEqualTo(1);
        }
    }

    @Test
    void aSocketListedTwiceWhileTheTableChangedIsCountedOnce() {
        // The kernel resumes a read by position, so churn can list a socket again on a later page.
        String table = TCP_HEADER
                + line(0, "0100007F:9C40", "0100007F:1F90", "06")
                + line(1, "0100007F:9C41", "0100007F:1F90", "06")
                + line(2, "0100007F:9C40", "0100007F:1F90", "06")
                + line(3, "0100007F:1F90", "00000000:0000", "0A")
                + line(4, "0100007F:1F91", "00000000:0000", "0A");

        ProcNetTcpParser.Sockets sockets = littleEndian().parse(ascii(table)).toSockets();

        assertThat(sockets.countToRemoteV4(TIME_WAIT, LOOPBACK, 0x1F90)).isEqualTo(2);
        assertThat(sockets.size()).as("listening sockets are all kept").isEqualTo(4);
    }

    @Test
    void socketsThatDifferOnlyInTheirLocalAddressAreEachKept() {
        // 127.0.0.2:40000 and 127.0.0.3:40000 toward one server are two connections, in both tables.
        String table = TCP_HEADER
                + line(0, "0200007F:9C40", "0100007F:1F90", "01")
                + line(1, "0300007F:9C40", "0100007F:1F90", "01");
        String table6 = TCP6_HEADER
                + line(0, "0000000000000000FFFF00000200007F:9C41", "0000000000000000FFFF00000100007F:1F90", "01")
                + line(1, "0000000000000000FFFF00000300007F:9C41", "0000000000000000FFFF00000100007F:1F90", "01")
                + line(2, "B80D0120000000000000000002000000:9C42", "B80D0120000000000000000001000000:01BB", "01")
                + line(3, "B80D0120000000000000000003000000:9C42", "B80D0120000000000000000001000000:01BB", "01");

        ProcNetTcpParser.Sockets sockets = littleEndian().parse(ascii(table)).parse(ascii(table6)).toSockets();

        assertThat(sockets.countToRemoteV4(ESTABLISHED, LOOPBACK, 0x1F90)).isEqualTo(4);
        assertThat(sockets.countToRemoteV6(ESTABLISHED, 0x2001_0DB8_0000_0000L, 1L, 443)).isEqualTo(2);
        assertThat(sockets.size()).isEqualTo(6);
    }

    @Test
    void aSocketListedAgainInANewerStateCountsInItsLastState() {
        // Closed between two pages: ESTABLISHED on the first, TIME_WAIT on the next.
        String table = TCP_HEADER
                + line(0, "0100007F:9C40", "0100007F:1F90", "01")
                + line(1, "0100007F:9C41", "0100007F:1F90", "01")
                + line(2, "0100007F:9C40", "0100007F:1F90", "06");

        ProcNetTcpParser.Sockets sockets = littleEndian().parse(ascii(table)).toSockets();

        assertThat(sockets.countToRemoteV4(TIME_WAIT, LOOPBACK, 0x1F90)).isEqualTo(1);
        assertThat(sockets.countToRemoteV4(ESTABLISHED, LOOPBACK, 0x1F90)).isEqualTo(1);
        assertThat(sockets.size()).isEqualTo(2);
    }

    @Test
    void malformedLinesAreSkippedAndTheRestParsed() {
        List<String> malformed = List.of(
                "   1: 0100007F:1F90 0100007F:C3\n",                     // cut in the remote port
                "   2: 0100007F:1F90\n",                                  // cut after the local address
                "   3: 0100007G:1F90 0100007F:C350 06 00000000\n",        // not hex
                "   4: 0100007F:1F90 0100007F:C350 0\n",                  // one-digit state
                "   5: 0100007F:1F90 0100007F:C350 XY 00000000\n",        // state not hex
                "   6: 0100007F1F90 0100007F:C350 06\n",                  // no colon before the port
                "   7: 00007F:1F90 0100007F:C350 06\n",                   // 6-digit address
                "   8: 0100007F:1F90 00000000000000000000000001000000:C350 06\n", // mixed widths
                "   9: 0100007F:1F90 0100007F:C3501 06\n",                // 5-digit port
                "  10: 0100007F:1F90 0100007F:C350 061\n",                // 3-digit state
                "  11:0100007F:1F90 0100007F:C350 06\n",                  // no blank after the slot
                "   x: 0100007F:1F90 0100007F:C350 06\n",                 // slot not a number
                ": 0100007F:1F90 0100007F:C350 06\n",                     // no slot
                "\u0000\u007f garbage \u0001\n");
        StringBuilder table = new StringBuilder(TCP_HEADER);
        int good = 0;
        for (String bad : malformed) {
            // Distinct client sockets (local ports 0x1F90, 0x1F91, ...) toward the same server.
            table.append(bad).append(line(100 + good, String.format("0100007F:%04X", 0x1F90 + good++), "0100007F:C350", "01"));
        }

        ProcNetTcpParser parser = littleEndian().parse(ascii(table.toString()));

        assertThat(parser.toSockets().countToRemoteV4(ESTABLISHED, LOOPBACK, 0xC350)).isEqualTo(good);
        assertThat(parser.toSockets().size()).isEqualTo(good);
        assertThat(parser.skippedLines()).isEqualTo(malformed.size() + 1);
    }

    @Test
    void blankLinesExtraSpacesTabsCarriageReturnsAndAMissingFinalNewlineAreTolerated() {
        String table = "\n\n   \n"
                + "   0:   0100007F:1F90\t 0100007F:C350    06  rest\r\n"
                + "\t1: 0100007F:1F91 0100007F:C350 06\r\n"
                + "\n"
                + "  2: 0100007F:1F92 0100007F:C350 06"; // cut after the state, at end of input

        ProcNetTcpParser parser = littleEndian().parse(ascii(table));

        assertThat(parser.toSockets().countToRemoteV4(TIME_WAIT, LOOPBACK, 0xC350)).isEqualTo(3);
        assertThat(parser.skippedLines()).as("blank lines are not malformed").isZero();
    }

    @Test
    void everyTruncationOfATableParsesWithoutFailingAndTheWholeTableParsesFully() {
        byte[] table = ascii(TCP6_HEADER
                + line(0, "0000000000000000FFFF00000100007F:1F90", "0000000000000000FFFF00000100007F:C350", "01")
                + line(1, "00000000000000000000000001000000:1F90", "00000000000000000000000001000000:C351", "06"));
        int previous = 0;
        for (int length = 0; length <= table.length; length++) {
            ProcNetTcpParser.Sockets sockets = littleEndian().parse(table, 0, length).toSockets();
            assertThat(sockets.size()).as("prefix of %d bytes", length).isBetween(previous, 2);
            previous = sockets.size();
        }
        assertThat(previous).isEqualTo(2);
    }

    @Test
    void randomlyCorruptedTablesNeverFailAndYieldAtMostOneEntryPerLine() {
        byte[] valid = ascii(TCP_HEADER
                + line(0, "0100007F:1F90", "0100007F:C350", "01")
                + line(1, "0100007F:1F90", "0100007F:C351", "06")
                + line(2, "00000000000000000000000001000000:1F90", "0000000000000000FFFF00000100007F:C352", "08")
                + line(3, "00000000000000000000000001000000:1F90", "B80D0120000000000000000001000000:C353", "0A"));
        byte[] alphabet = ascii("0123456789ABCDEFabcdefXx: \t\r\n\u0000\u00ff");
        Random random = new Random(20240611L); // seeded: a failure reproduces

        for (int round = 0; round < 5_000; round++) {
            byte[] data = Arrays.copyOf(valid, valid.length - random.nextInt(valid.length / 4));
            for (int edits = random.nextInt(6); edits > 0; edits--) {
                data[random.nextInt(data.length)] = alphabet[random.nextInt(alphabet.length)];
            }
            byte[] input = data;
            ProcNetTcpParser parser = littleEndian();

            assertThatCode(() -> parser.parse(input)).as("round %d", round).doesNotThrowAnyException();
            int lines = 1;
            for (byte b : input) {
                lines += b == '\n' ? 1 : 0;
            }
            assertThat(parser.toSockets().size() + parser.skippedLines()).isLessThanOrEqualTo(lines);
        }
    }

    @Test
    void receiveQueueIsReadFromTheQueuesColumnAndUnknownWhereALineDoesNotShowIt() {
        ProcNetTcpParser parser = littleEndian().parse(ascii(TCP_HEADER
                + "   0: 0100007F:D000 0100007F:1F90 01 0000001F:0000A00B 00:00000000 00000000\n"
                + "   1: 0100007F:D001 0100007F:1F90 01\n"
                + "   2: 0100007F:D002 0100007F:1F90 01 000000zz:0000000A 00:00000000\n"
                + "   3: 0100007F:D003 0100007F:1F90 01 00000000:0000000A\n"
                + TCP6_HEADER
                + "   0: 00000000000000000000000001000000:D004 00000000000000000000000001000000:1F90 08"
                + " 00000000:00000006 00:00000000 00000000\n"));
        ProcNetTcpParser.Sockets sockets = parser.toSockets();

        assertThat(parser.skippedLines()).as("the headers only: a queue is optional").isEqualTo(2);
        assertThat(sockets.size()).isEqualTo(5);
        assertThat(sockets.receiveQueueAt(sockets.entryV4(LOOPBACK, 0xD000, LOOPBACK, 8080))).isEqualTo(0xA00B);
        assertThat(sockets.receiveQueueAt(sockets.entryV4(LOOPBACK, 0xD001, LOOPBACK, 8080)))
                .as("ends at the state").isEqualTo(ProcNetTcpParser.UNKNOWN_QUEUE);
        assertThat(sockets.receiveQueueAt(sockets.entryV4(LOOPBACK, 0xD002, LOOPBACK, 8080)))
                .as("garbled").isEqualTo(ProcNetTcpParser.UNKNOWN_QUEUE);
        assertThat(sockets.receiveQueueAt(sockets.entryV4(LOOPBACK, 0xD003, LOOPBACK, 8080))).as("last column").isEqualTo(10);
        int v6 = sockets.entryV6(0, 1, 0xD004, 0, 1, 8080);
        assertThat(v6).isEqualTo(4);
        assertThat(sockets.stateAt(v6)).isEqualTo(CLOSE_WAIT);
        assertThat(sockets.receiveQueueAt(v6)).isEqualTo(6);
        assertThat(sockets.stateAt(sockets.entryV4(LOOPBACK, 0xD000, LOOPBACK, 8080))).isEqualTo(ESTABLISHED);
        assertThat(sockets.entryV4(LOOPBACK, 0xD005, LOOPBACK, 8080)).isEqualTo(-1);
        assertThat(sockets.entryV6(0, 1, 0xD000, 0, 1, 8080)).isEqualTo(-1);
    }

    @Test
    void unknownStateCodesAreKeptAndCounted() {
        ProcNetTcpParser.Sockets sockets = littleEndian()
                .parse(ascii(line(0, "0100007F:1F90", "0100007F:C350", "0D"))).toSockets();

        assertThat(sockets.size()).isEqualTo(1);
        assertThat(sockets.countsByStateCode()[0x0D]).isEqualTo(1);
    }

    @Test
    void countsByStateCodeAndMultiRemoteQueriesCoverBothFamilies() {
        ProcNetTcpParser.Sockets sockets = littleEndian().parse(ascii(TCP_HEADER
                + line(0, "0100007F:D000", "0100007F:1F90", "06")
                + line(1, "0100007F:D001", "0100007F:1F90", "06")
                + line(2, "0100007F:D002", "0100007F:1F91", "06")
                + line(3, "0100007F:D003", "0100007F:1F92", "06")
                + line(4, "0100007F:D004", "0100007F:1F90", "01")
                + line(5, "00000000000000000000000001000000:D005", "00000000000000000000000001000000:1F90", "06")))
                .toSockets();
        long[] keys = {
            ProcNetTcpParser.Sockets.ipv4RemoteKey(LOOPBACK, 8081),
            ProcNetTcpParser.Sockets.ipv4RemoteKey(LOOPBACK, 8080)};
        Arrays.sort(keys);

        assertThat(sockets.countToRemotesV4(TIME_WAIT, keys)).isEqualTo(3);
        assertThat(sockets.countToRemoteV6(TIME_WAIT, 0, 1, 8080)).isEqualTo(1);
        assertThat(sockets.countsByStateCode()[TIME_WAIT]).isEqualTo(5);
        assertThat(sockets.countsByStateCode()[ESTABLISHED]).isEqualTo(1);
    }

    @Test
    void snapshotsAreIndependentOfLaterParsing() {
        ProcNetTcpParser parser = littleEndian().parse(ascii(line(0, "0100007F:1F90", "0100007F:C350", "01")));
        ProcNetTcpParser.Sockets first = parser.toSockets();

        parser.parse(ascii(line(1, "0100007F:1F90", "0100007F:C351", "01")));

        assertThat(first.size()).isEqualTo(1);
        assertThat(parser.toSockets().size()).isEqualTo(2);
    }

    @Test
    void parseAllCombinesTablesAndARangeOutsideTheArrayIsRejected() {
        ProcNetTcpParser.Sockets sockets = ProcNetTcpParser.parseAll(
                ascii(TCP_HEADER + line(0, "0100007F:1F90", "0100007F:C350", "01")),
                ascii(TCP6_HEADER),
                new byte[0]);

        assertThat(sockets.size()).isEqualTo(1);
        assertThatThrownBy(() -> littleEndian().parse(new byte[4], 2, 3))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }
}
