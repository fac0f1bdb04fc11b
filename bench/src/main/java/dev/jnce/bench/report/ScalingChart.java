package dev.jnce.bench.report;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Draws bench/results/scaling.png from the points bench/scripts/report.py writes: one log-log
 * panel per chart (InfoNCE forward+backward time against N, cross-entropy against C), one line
 * per series (backend and D, PyTorch among them): one colour per implementation in every panel
 * ({@link Palette}), solid and dashed lines for the first and second D. Runs headless.
 *
 * <pre>
 * java -Djava.awt.headless=true -cp bench/target/benchmarks.jar dev.jnce.bench.report.ScalingChart POINTS.tsv OUT.png
 * </pre>
 *
 * POINTS.tsv: lines {@code chart<TAB>x-axis title<TAB>series<TAB>x<TAB>milliseconds}.
 */
public final class ScalingChart {
    private ScalingChart() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: ScalingChart POINTS.tsv OUT.png");
            System.exit(2);
        }
        System.setProperty("java.awt.headless", "true");
        Map<String, String> xTitles = new LinkedHashMap<>();
        Map<String, Map<String, List<double[]>>> charts = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of(args[0]))) {
            if (line.isBlank() || line.startsWith("#")) continue;
            String[] f = line.split("\t");
            xTitles.put(f[0], f[1]);
            charts.computeIfAbsent(f[0], k -> new LinkedHashMap<>()).computeIfAbsent(f[2], k -> new ArrayList<>())
                    .add(new double[] {Double.parseDouble(f[3]), Double.parseDouble(f[4])});
        }
        List<XYChart> panels = new ArrayList<>();
        charts.forEach((title, series) -> panels.add(panel(title, xTitles.get(title), series)));
        BitmapEncoder.saveBitmap(panels, 1, panels.size(), args[1].replaceAll("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
    }

    private static XYChart panel(String title, String xTitle, Map<String, List<double[]>> series) {
        XYChart chart = new XYChartBuilder().width(720).height(540).title(title).xAxisTitle(xTitle).yAxisTitle("time (ms)").build();
        chart.getStyler().setXAxisLogarithmic(true).setYAxisLogarithmic(true).setLegendPosition(
                org.knowm.xchart.style.Styler.LegendPosition.InsideNW);
        List<String> details = series.keySet().stream().map(n -> n.contains(" ") ? n.substring(n.indexOf(' ') + 1) : "")
                .distinct().toList();
        series.forEach((name, points) -> {
            points.sort((p, q) -> Double.compare(p[0], q[0]));
            double[] x = points.stream().mapToDouble(p -> p[0]).toArray();
            double[] y = points.stream().mapToDouble(p -> p[1]).toArray();
            // colour: the implementation, the same in every panel; line and marker: the detail (D)
            int style = details.indexOf(name.contains(" ") ? name.substring(name.indexOf(' ') + 1) : "");
            XYSeries s = chart.addSeries(name, x, y);
            s.setLineColor(Palette.of(name));
            s.setMarkerColor(Palette.of(name));
            s.setLineStyle(style % 2 == 0 ? SeriesLines.SOLID : SeriesLines.DASH_DASH);
            s.setMarker(style % 2 == 0 ? SeriesMarkers.CIRCLE : SeriesMarkers.SQUARE);
        });
        return chart;
    }
}
