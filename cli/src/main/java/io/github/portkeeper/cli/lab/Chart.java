package io.github.portkeeper.cli.lab;

import java.util.List;
import java.util.Locale;

/**
 * The {@code --chart} picture: a self-contained SVG of client TIME_WAIT sockets over time, one
 * line per mode, every mode's clock starting at its first request.
 */
final class Chart {

    private static final int WIDTH = 960;
    private static final int HEIGHT = 540;
    private static final int LEFT = 80;
    private static final int RIGHT = 250;
    private static final int TOP = 80;
    private static final int BOTTOM = 60;

    private Chart() {
    }

    static String svg(List<ModeResult> results, String subtitle) {
        int plotW = WIDTH - LEFT - RIGHT;
        int plotH = HEIGHT - TOP - BOTTOM;
        long maxMillis = 1_000;
        int maxCount = 0;
        for (ModeResult r : results) {
            for (ModeResult.Point p : r.series()) {
                maxMillis = Math.max(maxMillis, p.millis());
                maxCount = Math.max(maxCount, p.clientTimeWait());
            }
        }
        double xStep = niceStep(maxMillis / 1000.0 / 6);
        double xMax = Math.ceil(maxMillis / 1000.0 / xStep) * xStep;
        double yStep = niceStep(Math.max(10, maxCount) / 5.0);
        double yMax = Math.max(yStep, Math.ceil(Math.max(10, maxCount) / yStep) * yStep);

        StringBuilder sb = new StringBuilder();
        sb.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        sb.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                + " font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">%n", WIDTH, HEIGHT, WIDTH, HEIGHT));
        sb.append("<title>Client TIME_WAIT sockets over time, per mode</title>\n");
        sb.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>%n", WIDTH, HEIGHT));
        sb.append(text(LEFT, 34, 20, "bold", "start", "#222", "Client TIME_WAIT sockets over time"));
        sb.append(text(LEFT, 58, 13, "normal", "start", "#555", subtitle));

        // Grid and axes.
        for (double y = 0; y <= yMax + 1e-9; y += yStep) {
            double py = TOP + plotH - y / yMax * plotH;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1\"/>%n",
                    LEFT, py, LEFT + plotW, py, y == 0 ? "#444" : "#e4e4e4"));
            sb.append(text(LEFT - 8, py + 4, 12, "normal", "end", "#444", String.format(Locale.ROOT, "%,d", Math.round(y))));
        }
        for (double x = 0; x <= xMax + 1e-9; x += xStep) {
            double px = LEFT + x / xMax * plotW;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" stroke-width=\"1\"/>%n",
                    px, TOP, px, TOP + plotH, x == 0 ? "#444" : "#eeeeee"));
            sb.append(text(px, TOP + plotH + 18, 12, "normal", "middle", "#444", seconds(x, xStep)));
        }
        sb.append(text(LEFT + plotW / 2.0, HEIGHT - 16, 13, "normal", "middle", "#333",
                "seconds since the mode's first request"));
        sb.append(String.format(Locale.ROOT, "<text x=\"22\" y=\"%.1f\" font-size=\"13\" fill=\"#333\" text-anchor=\"middle\""
                + " transform=\"rotate(-90 22 %.1f)\">client TIME_WAIT sockets (kernel)</text>%n", TOP + plotH / 2.0, TOP + plotH / 2.0));

        // Lines: drawn widest first so lines lying on top of each other (at zero) all stay visible.
        int legendY = TOP + 10;
        List<ModeResult> widestFirst = new java.util.ArrayList<>(results);
        widestFirst.sort((a, b) -> Double.compare(Style.of(b.mode()).width, Style.of(a.mode()).width));
        for (int pass = 0; pass < 2; pass++) {
            for (ModeResult r : pass == 0 ? widestFirst : results) {
                Style st = Style.of(r.mode());
                if (pass == 0) {
                    StringBuilder pts = new StringBuilder();
                    for (ModeResult.Point p : r.series()) {
                        pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", LEFT + p.millis() / 1000.0 / xMax * plotW,
                                TOP + plotH - p.clientTimeWait() / yMax * plotH));
                    }
                    sb.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s"
                                    + " stroke-linejoin=\"round\" points=\"%s\"><title>%s</title></polyline>%n",
                            st.color, st.width, st.dash.isEmpty() ? "" : " stroke-dasharray=\"" + st.dash + "\"",
                            pts.toString().trim(), r.mode().label()));
                    double mx = LEFT + r.lastRequestMillis() / 1000.0 / xMax * plotW;
                    double my = TOP + plotH - valueAt(r.series(), r.lastRequestMillis()) / yMax * plotH;
                    sb.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#ffffff\" stroke=\"%s\""
                            + " stroke-width=\"2.5\"><title>%s: last request</title></circle>%n", mx, my, st.color, r.mode().label()));
                } else {
                    // Legend: a sample of the line, the mode and its figures.
                    int lx = LEFT + plotW + 24;
                    sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"%.1f\"%s/>%n",
                            lx, legendY, lx + 30, legendY, st.color, st.width,
                            st.dash.isEmpty() ? "" : " stroke-dasharray=\"" + st.dash + "\""));
                    sb.append(text(lx + 38, legendY + 5, 14, "bold", "start", "#222", r.mode().label()));
                    String peak = r.clientTimeWait() == null ? "?" : Report.num(r.clientTimeWait().peak());
                    String end = r.clientTimeWait() == null ? "?" : Report.num(r.clientTimeWait().end());
                    sb.append(text(lx + 38, legendY + 23, 12, "normal", "start", "#555", "TIME_WAIT peak " + peak));
                    sb.append(text(lx + 38, legendY + 40, 12, "normal", "start", "#555", "TIME_WAIT at end " + end));
                    sb.append(text(lx + 38, legendY + 57, 12, "normal", "start", "#555",
                            "connections opened " + Report.num(r.connectionsOpened())));
                    legendY += 84;
                }
            }
        }
        int lx = LEFT + plotW + 24;
        sb.append(String.format(Locale.ROOT, "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"#ffffff\" stroke=\"#555\" stroke-width=\"2.5\"/>%n",
                lx + 15, legendY));
        sb.append(text(lx + 38, legendY + 5, 12, "normal", "start", "#555", "last request; after it the"));
        sb.append(text(lx + 38, legendY + 21, 12, "normal", "start", "#555", "pooled clients sit idle until"));
        sb.append(text(lx + 38, legendY + 37, 12, "normal", "start", "#555", "the server has closed them"));
        sb.append("</svg>\n");
        return sb.toString();
    }

    /** The series' value at {@code millis}, interpolated as the polyline draws it. */
    private static double valueAt(List<ModeResult.Point> series, long millis) {
        ModeResult.Point before = null;
        for (ModeResult.Point p : series) {
            if (p.millis() >= millis) {
                if (before == null || p.millis() == before.millis()) {
                    return p.clientTimeWait();
                }
                double f = (double) (millis - before.millis()) / (p.millis() - before.millis());
                return before.clientTimeWait() + f * (p.clientTimeWait() - before.clientTimeWait());
            }
            before = p;
        }
        return before == null ? 0 : before.clientTimeWait();
    }

    private static String seconds(double x, double step) {
        return step >= 1 ? String.format(Locale.ROOT, "%.0f", x) : String.format(Locale.ROOT, "%.1f", x);
    }

    /** 1, 2 or 5 times a power of ten, at least {@code raw}. */
    static double niceStep(double raw) {
        if (raw <= 0) {
            return 1;
        }
        double pow = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[] {1, 2, 5, 10}) {
            if (m * pow >= raw) {
                return m * pow;
            }
        }
        return 10 * pow;
    }

    private static String text(double x, double y, int size, String weight, String anchor, String color, String s) {
        return String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" font-weight=\"%s\" text-anchor=\"%s\" fill=\"%s\">%s</text>%n",
                x, y, size, weight, anchor, color, escape(s));
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    /** How a mode's line looks. */
    private static final class Style {
        final String color;
        final double width;
        final String dash;

        private Style(String color, double width, String dash) {
            this.color = color;
            this.width = width;
            this.dash = dash;
        }

        static Style of(Mode mode) {
            switch (mode) {
                case NAIVE:
                    return new Style("#d62728", 2.5, "");
                case HTTPCLIENT:
                    return new Style("#1f77b4", 3, "9 6");
                default:
                    return new Style("#2ca02c", 7, "");
            }
        }
    }
}
