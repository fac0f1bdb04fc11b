package dev.jnce.bench.report;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Draws bench/results/memory.png from the rows bench/scripts/memory_vs_n.sh writes: one log-log
 * panel per form, peak memory added by a forward+backward step against N, one line per
 * implementation in the colours of {@link ScalingChart}. Runs headless.
 *
 * <pre>java -cp bench/target/benchmarks.jar dev.jnce.bench.report.MemoryChart ROWS.csv OUT.png</pre>
 *
 * ROWS.csv: memory.csv rows without the header, {@code ...,form,N,D,impl,seconds,peak_added_mib,raw_log}.
 */
public final class MemoryChart {
    private static final Map<String, String> TITLES = Map.of(
            "infonce", "InfoNCE, two towers",
            "onetensor", "InfoNCE, one tensor (f fᵀ)",
            "clip", "CLIP, symmetric",
            "ntxent", "NT-Xent (SimCLR)",
            "supcon", "SupCon");

    private MemoryChart() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: MemoryChart ROWS.csv OUT.png");
            System.exit(2);
        }
        System.setProperty("java.awt.headless", "true");
        Map<String, Map<String, List<double[]>>> panels = new LinkedHashMap<>();
        Map<String, String> dims = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of(args[0]))) {
            if (line.isBlank() || line.startsWith("date,")) continue;
            String[] f = line.split(",");
            int k = f.length;
            String form = f[k - 7], impl = f[k - 4];
            dims.put(form, f[k - 5]);
            panels.computeIfAbsent(form, x -> new LinkedHashMap<>()).computeIfAbsent(impl.replace("jnce ", ""), x -> new ArrayList<>())
                    .add(new double[] {Double.parseDouble(f[k - 6]), Double.parseDouble(f[k - 2])});
        }
        List<XYChart> charts = new ArrayList<>();
        panels.forEach((form, series) -> {
            String title = TITLES.getOrDefault(form, form) + ", D = " + dims.get(form);
            XYChart chart = new XYChartBuilder().width(640).height(480).title(title).xAxisTitle("N (batch)")
                    .yAxisTitle("peak memory added by forward+backward (MiB)").build();
            chart.getStyler().setXAxisLogarithmic(true).setYAxisLogarithmic(true).setLegendPosition(Styler.LegendPosition.InsideNW)
                    .setChartTitleFont(new java.awt.Font(java.awt.Font.SANS_SERIF, java.awt.Font.BOLD, 13));
            series.forEach((name, points) -> {
                points.sort((p, q) -> Double.compare(p[0], q[0]));
                XYSeries s = chart.addSeries(name.equals("cpu") ? "jnce cpu" : name,
                        points.stream().mapToDouble(p -> p[0]).toArray(), points.stream().mapToDouble(p -> Math.max(p[1], 1)).toArray());
                s.setLineColor(Palette.of(name));
                s.setMarkerColor(Palette.of(name));
                s.setMarker(SeriesMarkers.CIRCLE);
            });
            charts.add(chart);
        });
        BitmapEncoder.saveBitmap(charts, 1, charts.size(), args[1].replaceAll("\\.png$", ""), BitmapEncoder.BitmapFormat.PNG);
    }
}
