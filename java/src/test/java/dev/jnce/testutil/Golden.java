package dev.jnce.testutil;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Golden data written by the generators in java/src/test/python: '#' comment lines, then
 * cases headed {@code [name]} holding {@code key = v1 v2 ...} lines.
 */
public final class Golden {
    private Golden() {
    }

    /** One case: named fields of space-separated values. */
    public record Case(String name, Map<String, String[]> fields) {
        public String text(String key) {
            return String.join(" ", raw(key));
        }

        public long integer(String key) {
            return Long.parseLong(raw(key)[0]);
        }

        public float[] floats(String key) {
            String[] v = raw(key);
            float[] out = new float[v.length];
            for (int i = 0; i < v.length; i++) out[i] = Float.parseFloat(v[i]);
            return out;
        }

        public double[] doubles(String key) {
            return Arrays.stream(raw(key)).mapToDouble(Double::parseDouble).toArray();
        }

        public long[] longs(String key) {
            return Arrays.stream(raw(key)).mapToLong(Long::parseLong).toArray();
        }

        private String[] raw(String key) {
            String[] v = fields.get(key);
            if (v == null) throw new IllegalArgumentException("golden case " + name + " has no field '" + key + "'");
            return v;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** Reads a resource such as {@code /golden/cross_entropy.txt}. */
    public static Map<String, Case> load(String resource) {
        Map<String, Case> cases = new LinkedHashMap<>();
        try (InputStream in = Golden.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("missing test resource " + resource);
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            Map<String, String[]> fields = null;
            String line;
            while ((line = reader.readLine()) != null) {
                line = line.strip();
                if (line.isEmpty() || line.startsWith("#")) continue;
                if (line.startsWith("[") && line.endsWith("]")) {
                    fields = new LinkedHashMap<>();
                    String name = line.substring(1, line.length() - 1);
                    cases.put(name, new Case(name, fields));
                    continue;
                }
                int eq = line.indexOf('=');
                if (fields == null || eq < 0) throw new IllegalStateException(resource + ": unexpected line " + line);
                String value = line.substring(eq + 1).strip();
                fields.put(line.substring(0, eq).strip(), value.isEmpty() ? new String[0] : value.split("\\s+"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return cases;
    }
}
