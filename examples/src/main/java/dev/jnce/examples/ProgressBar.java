package dev.jnce.examples;

import java.io.PrintStream;

/**
 * A plain-ASCII progress bar, one line per task: {@code label [#########.........] 58/125 text}.
 *
 * <p>On a terminal it is redrawn in place with {@code \r}. Elsewhere (a pipe, Maven's exec, a
 * log file) a redraw would pile up, so the bar only grows: the label and {@code [}, then one
 * {@code #} at a time, then the closing text and a newline. Both leave the same final line.
 */
final class ProgressBar {
    private static final long REDRAW_NANOS = 50_000_000;

    private final PrintStream out;
    private final boolean terminal;
    private final int width;
    private String label;
    private int drawn;
    private long lastRedraw;

    ProgressBar(PrintStream out, boolean terminal, int width) {
        this.out = out;
        this.terminal = terminal;
        this.width = width;
    }

    /** Whether standard output is a terminal (Java 22+ gives a console even when it is not). */
    static boolean stdoutIsTerminal() {
        return System.console() != null && System.console().isTerminal();
    }

    /** Starts a bar. */
    void start(String label) {
        this.label = label;
        drawn = 0;
        lastRedraw = 0;
        if (!terminal) {
            out.print(label + " [");
            out.flush();
        }
    }

    /** Shows {@code done} of {@code total}, with a short text after the bar on a terminal. */
    void update(int done, int total, String text) {
        int fill = (int) ((long) width * done / total);
        if (terminal) {
            long now = System.nanoTime();
            if (now - lastRedraw < REDRAW_NANOS && done < total) return;
            lastRedraw = now;
            out.print("\r" + label + " " + bar(fill) + counter(done, total) + "  " + text);
        } else {
            if (fill == drawn) return;
            out.print("#".repeat(fill - drawn));
        }
        drawn = fill;
        out.flush();
    }

    /** Ends the bar at 100% with the final text and a newline. */
    void finish(int total, String text) {
        if (terminal) {
            out.println("\r" + label + " " + bar(width) + counter(total, total) + "  " + text);
        } else {
            out.println("#".repeat(width - drawn) + "]" + counter(total, total) + "  " + text);
        }
        out.flush();
    }

    private String bar(int fill) {
        return "[" + "#".repeat(fill) + ".".repeat(width - fill) + "]";
    }

    private static String counter(int done, int total) {
        String t = Integer.toString(total);
        return String.format(" %" + t.length() + "d/%s", done, t);
    }
}
