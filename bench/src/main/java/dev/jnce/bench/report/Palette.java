package dev.jnce.bench.report;

import java.awt.Color;

/** One colour per implementation in every chart: cpu blue, java orange, PyTorch purple. */
final class Palette {
    private Palette() {
    }

    /** The colour of a series named "{@code <implementation>[ <detail>]}", e.g. "cpu D=128", "PyTorch". */
    static Color of(String series) {
        String impl = series.split(" ")[0];
        return switch (impl) {
            case "cpu" -> new Color(0x1f, 0x77, 0xb4);
            case "java" -> new Color(0xff, 0x7f, 0x0e);
            case "PyTorch" -> new Color(0x94, 0x67, 0xbd);
            case "cuda" -> new Color(0x2c, 0xa0, 0x2c);
            default -> Color.GRAY;
        };
    }
}
