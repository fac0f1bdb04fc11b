package dev.jnce.consumer;

import dev.jnce.Backends;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.loss.CrossEntropy;
import dev.jnce.loss.InfoNce;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * jnce as a project that depends on it meets it: only jnce's jar and its bindings' jar, on the
 * class path or the module path. Runs one cross-entropy and one InfoNCE call and checks that
 * they ran on the {@code cpu} backend, with the OpenBLAS that jnce's own jar carries (mapped from
 * the cache folder {@code -Djnce.cache.dir}) and the values a float64 reference gives. Exits 1
 * with the reason otherwise. With a second argument {@code java} (the java-only build, whose jar
 * has no native library) it checks instead that the host backend is the pure-Java one, and why.
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -Djnce.cache.dir=DIR -cp CLASSES:LIB/* dev.jnce.consumer.ConsumerCheck classpath
 * java --enable-native-access=dev.jnce,dev.jnce.bindings -Djnce.cache.dir=DIR -p CLASSES:LIB -m dev.jnce.consumer/dev.jnce.consumer.ConsumerCheck modulepath</pre>
 */
public final class ConsumerCheck {
    private ConsumerCheck() {
    }

    public static void main(String[] args) throws IOException {
        boolean modulePath = args.length >= 1 && args[0].equals("modulepath");
        if (!modulePath && !(args.length >= 1 && args[0].equals("classpath"))) fail("arguments: classpath|modulepath [cpu|java]");
        boolean javaOnly = args.length >= 2 && args[1].equals("java");
        check(ConsumerCheck.class.getModule().isNamed() == modulePath && Tensor.class.getModule().isNamed() == modulePath,
                "ran on the " + args[0] + ": this class in " + ConsumerCheck.class.getModule() + ", jnce in " + Tensor.class.getModule());
        check(ClassLoader.getSystemResource("org/bytedeco/openblas/linux-x86_64/libopenblas.so.0") == null,
                "no org.bytedeco:openblas jar is on the path: jnce's jar carries OpenBLAS");

        float ce, infoNce;
        try (TensorScope scope = TensorScope.open()) {
            Tensor logits = Tensor.of(new float[][] {{2.0f, 1.0f, 0.1f}, {0.5f, 2.5f, 0.0f}});
            Tensor targets = Tensor.of(new long[] {0, 1});
            CrossEntropy.Result r = CrossEntropy.create().forwardBackward(logits, targets);
            ce = r.loss().item();
            float[][] q = {{1, 0, 0.5f}, {0, 1, 0}, {0.3f, 0.3f, 1}}, k = {{0.9f, 0.1f, 0.4f}, {0.1f, 1, 0.2f}, {0.2f, 0.4f, 1}};
            try (InfoNce.Result n = InfoNce.create().withTemperature(0.1f).forwardBackward(Tensor.of(q), Tensor.of(k))) {
                infoNce = n.loss().item();
            }
            check(Math.abs(infoNce - infoNceReference(q, k, 0.1)) < 1e-4, "InfoNCE loss " + infoNce + ", float64 reference "
                    + infoNceReference(q, k, 0.1));
        }
        check(Math.abs(ce - 0.306882) < 1e-5, "cross-entropy loss " + ce + ", expected 0.306882");
        String backend = Backends.host().name();
        if (javaOnly) {
            String why = Backends.unavailableReason("cpu");
            check(backend.equals("java") && why != null && why.contains("no native library"), "backend " + backend
                    + ", expected java with cpu unavailable for want of a native library (" + why + ")");
            System.out.printf("consumer on the %s: cross-entropy %.6f, InfoNCE %.6f, backend %s (cpu: %s)%n", args[0], ce,
                    infoNce, backend, why);
            return;
        }
        check(backend.equals("cpu"), "backend " + backend + " (" + Backends.unavailableReason("cpu") + ")");

        String cache = Path.of(System.getProperty("jnce.cache.dir", "")).toAbsolutePath().toString();
        String openBlas = mapped("libopenblas.so.0");
        check(openBlas != null && openBlas.startsWith(cache + "/"), "OpenBLAS mapped from " + openBlas + ", not from the cache " + cache);
        System.out.printf("consumer on the %s: cross-entropy %.6f, InfoNCE %.6f, backend %s, OpenBLAS %s%n", args[0], ce, infoNce,
                backend, openBlas);
    }

    /** F.cross_entropy(normalize(q) @ normalize(k).T / tau, arange(N)) in double. */
    private static double infoNceReference(float[][] q, float[][] k, double tau) {
        int n = q.length;
        double total = 0;
        for (int i = 0; i < n; i++) {
            double[] logits = new double[n];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                double dot = 0, qq = 0, kk = 0;
                for (int d = 0; d < q[i].length; d++) {
                    dot += (double) q[i][d] * k[j][d];
                    qq += (double) q[i][d] * q[i][d];
                    kk += (double) k[j][d] * k[j][d];
                }
                logits[j] = dot / Math.sqrt(qq) / Math.sqrt(kk) / tau;
                max = Math.max(max, logits[j]);
            }
            double sum = 0;
            for (double l : logits) sum += Math.exp(l - max);
            total += max + Math.log(sum) - logits[i];
        }
        return total / n;
    }

    /** The path of the mapped file called name in this process, or null. */
    private static String mapped(String name) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            int slash = line.indexOf('/');
            if (slash >= 0 && line.endsWith("/" + name)) return line.substring(slash);
        }
        return null;
    }

    private static void check(boolean ok, String what) {
        if (!ok) fail(what);
    }

    private static void fail(String why) {
        System.err.println("consumer check failed: " + why);
        System.exit(1);
    }
}
