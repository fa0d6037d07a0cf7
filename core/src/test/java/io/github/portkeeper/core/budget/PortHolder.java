package io.github.portkeeper.core.budget;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * "Another process" of {@link PortBudgetNamespaceTest}: opens {@code count} plain connections to
 * {@code host:port}, prints {@code READY <count>} and holds them until its standard input ends
 * (the parent closes it or dies), at most {@code maxSeconds}. Not a test itself.
 *
 * <p>Arguments: {@code host port count maxSeconds}.
 */
public final class PortHolder {

    private PortHolder() {
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        int count = Integer.parseInt(args[2]);
        long maxSeconds = Long.parseLong(args[3]);
        Thread deadline = new Thread(() -> {
            try {
                Thread.sleep(maxSeconds * 1000);
            } catch (InterruptedException ignored) {
                return;
            }
            System.exit(3);
        }, "holder-deadline");
        deadline.setDaemon(true);
        deadline.start();

        List<Socket> held = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                Socket s = new Socket();
                s.connect(new InetSocketAddress(host, port), 5_000);
                held.add(s);
            }
            System.out.println("READY " + held.size());
            System.out.flush();
            while (System.in.read() >= 0) {
                // hold until the parent closes our stdin
            }
        } finally {
            for (Socket s : held) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // exiting
                }
            }
        }
        System.exit(0);
    }
}
