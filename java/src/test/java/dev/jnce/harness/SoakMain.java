package dev.jnce.harness;

import dev.jnce.Backend;
import dev.jnce.Backends;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.TensorScope;
import dev.jnce.loss.BinaryCrossEntropyWithLogits;
import dev.jnce.loss.ClipLoss;
import dev.jnce.loss.CrossEntropy;
import dev.jnce.loss.InfoNce;
import dev.jnce.loss.LinearCrossEntropy;
import dev.jnce.loss.NllLoss;
import dev.jnce.loss.NtXent;
import dev.jnce.ops.Normalize;
import dev.jnce.ops.Softmax;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The soak: CALLS mixed public calls, then a verdict on memory. Run in a JVM of its own (SoakTest,
 * bench/scripts/soak.sh) with {@code -XX:NativeMemoryTracking=summary} and a pre-touched fixed
 * heap, so that resident memory moves only with off-heap memory.
 *
 * <p>The calls: cross-entropy (class and probability targets), NLL, BCE with logits, softmax,
 * normalise, InfoNCE (two towers), NT-Xent, CLIP and the linear cross-entropy, on {@code cpu} and
 * {@code java}, each with new tensors closed by try-with-resources, in a {@link TensorScope}, over
 * a user's confined arena, or into buffers kept for the run; one call in eight is refused (a bad
 * shape, a closed tensor, a target out of range) and its exception caught. Half the work runs on a
 * pool of platform threads, half on a fresh virtual thread per batch of calls (a thread-per-request
 * server), and the thread count of the kernels changes between batches.
 *
 * <p>Memory: after a warm-up of two fifths of the calls (the JIT's compilations, whose arenas the C
 * library keeps once freed, and the pools of OpenBLAS and of the kernels settle in it), {@code SOAK-SAMPLE} lines report the process's
 * resident memory (VmRSS) and the JVM's native memory committed (NMT's total) at 20 points. The
 * verdict ({@code SOAK-RESULT}) passes when the median of the last three samples of each is within
 * 5% of the first sample after the warm-up plus 16 MiB; the exit status is 0 then, 1 with the reason otherwise. Both are
 * judged without C2's transient working memory (NMT's Compiler and Arena Chunk, printed as
 * jitArenaKiB: tens of MiB for a few seconds around a large compilation), and resident memory after
 * {@code System.trim_native_heap}, so that memory glibc keeps once freed is not taken for a leak.
 *
 * <pre>java -XX:NativeMemoryTracking=summary -Xms192m -Xmx192m -XX:+AlwaysPreTouch ... SoakMain CALLS</pre>
 */
public final class SoakMain {
    static final double RELATIVE = 0.05;
    static final long ABSOLUTE_KIB = 16 * 1024;
    private static final int SAMPLES = 20, BATCH = 50;

    private SoakMain() {
    }

    /** Tensors kept on purpose by {@code -Djnce.soak.leakBytes=B} (B bytes a call): the check that the verdict sees a leak. */
    private static final List<Tensor> LEAKED = java.util.Collections.synchronizedList(new ArrayList<>());

    public static void main(String[] args) throws Exception {
        long calls = Long.parseLong(args[0]);
        long leakBytes = Long.getLong("jnce.soak.leakBytes", 0);
        List<Backend> backends = new ArrayList<>();
        for (String name : Backends.available()) if (!name.equals("cuda")) backends.add(Backends.get(name));
        Ops ops = new Ops();
        AtomicLong done = new AtomicLong(), refused = new AtomicLong();
        long warmup = calls * 2 / 5, step = Math.max(1, (calls - warmup) / SAMPLES);
        long[] base = null;
        long next = warmup;
        List<String> failures = new ArrayList<>();
        List<long[]> later = new ArrayList<>();
        ExecutorService platform = Executors.newFixedThreadPool(3);
        try {
            long batchIndex = 0;
            while (done.get() < calls) {
                // 4 batches at a time: 2 on the platform pool, 2 each on a new virtual thread
                List<Future<?>> running = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    long seed = batchIndex++;
                    Runnable batch = () -> {
                        SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L);
                        for (int i = 0; i < BATCH; i++) {
                            if (ops.call(rnd, backends.get(rnd.nextInt(backends.size())))) refused.incrementAndGet();
                            if (leakBytes > 0) LEAKED.add(Tensor.zerosUnscoped(DType.FLOAT32, leakBytes / 4));
                            done.incrementAndGet();
                        }
                    };
                    if (t < 2) running.add(platform.submit(batch));
                    else {
                        var task = new java.util.concurrent.FutureTask<Void>(batch, null);
                        Thread.ofVirtual().start(task);
                        running.add(task);
                    }
                }
                for (Future<?> f : running) f.get();
                if (batchIndex % 16 == 0) Backends.setThreads(1 + (int) (batchIndex / 16 % 3));
                if (done.get() >= next) {
                    System.gc();
                    // glibc keeps freed memory (a C2 compilation's arena of tens of MB) resident until trimmed;
                    // trimming returns only free memory, so a leak still shows
                    jcmd("System.trim_native_heap");
                    long[] nmt = nmtCommittedKiB();
                    long jit = nmt[1];
                    // judged without C2's transient arenas (NMT's Compiler and Arena Chunk), which come and go
                    long[] now = {rssKiB() - jit, nmt[0] - jit};
                    System.out.printf("SOAK-SAMPLE calls=%d rssKiB=%d nmtCommittedKiB=%d jitArenaKiB=%d refused=%d%n", done.get(),
                            now[0] + jit, nmt[0], jit, refused.get());
                    System.out.flush();
                    if (base == null) base = now;
                    else later.add(now);
                    next += step;
                }
            }
        } finally {
            platform.shutdownNow();
        }
        ops.close();
        // the verdict: the median of the last three samples of each measure (one sample can catch C2's
        // arena freed between the NMT reading and the RSS one, a transient no leak makes)
        String[] what = {"RSS", "NMT committed"};
        for (int m = 0; base != null && later.size() >= 3 && m < 2; m++) {
            long[] last = {later.get(later.size() - 3)[m], later.get(later.size() - 2)[m], later.get(later.size() - 1)[m]};
            java.util.Arrays.sort(last);
            long limit = (long) (base[m] * (1 + RELATIVE)) + ABSOLUTE_KIB;
            if (last[1] > limit) {
                failures.add(what[m] + " " + last[1] + " KiB (median of the last three samples, less C2's arenas) > " + limit
                        + " KiB (first sample after warm-up " + base[m] + " KiB + 5% + " + ABSOLUTE_KIB + " KiB)");
            }
        }
        if (later.size() < 3) failures.add("fewer than four samples after warm-up: run more calls");
        if (refused.get() == 0) failures.add("no call was refused: the refused calls did not run");
        System.out.printf("SOAK-RESULT calls=%d refused=%d %s%n", done.get(), refused.get(),
                failures.isEmpty() ? "flat" : "GROWTH " + failures);
        System.exit(failures.isEmpty() ? 0 : 1);
    }

    /** The process's resident memory, KiB. */
    static long rssKiB() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    /**
     * NMT's total committed memory and that of its Compiler and Arena Chunk categories (C2's
     * working memory), KiB (the JVM must run with -XX:NativeMemoryTracking=summary).
     */
    static long[] nmtCommittedKiB() throws IOException, InterruptedException {
        String text = jcmd("VM.native_memory", "summary", "scale=KB");
        Matcher m = Pattern.compile("Total: reserved=\\d+KB, committed=(\\d+)KB").matcher(text);
        if (!m.find()) throw new IllegalStateException("no NMT total (run with -XX:NativeMemoryTracking=summary): " + text);
        long total = Long.parseLong(m.group(1)), jit = 0;
        Matcher c = Pattern.compile("-\\s+(Compiler|Arena Chunk) \\(reserved=\\d+KB, committed=(\\d+)KB").matcher(text);
        while (c.find()) jit += Long.parseLong(c.group(2));
        return new long[] {total, jit};
    }

    /** A diagnostic command of this JVM, through the JDK's jcmd; its output. */
    static String jcmd(String... command) throws IOException, InterruptedException {
        List<String> line = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                Long.toString(ProcessHandle.current().pid())));
        line.addAll(List.of(command));
        Process p = new ProcessBuilder(line).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        p.waitFor();
        return text;
    }

    /** The calls, with their immutable loss objects shared by every thread. */
    static final class Ops implements AutoCloseable {
        final CrossEntropy ce = CrossEntropy.create().withLabelSmoothing(0.1f);
        final NllLoss nll = NllLoss.create();
        final BinaryCrossEntropyWithLogits bce = BinaryCrossEntropyWithLogits.create();
        final Softmax softmax = Softmax.create();
        final Normalize normalize = Normalize.create();
        final InfoNce infoNce = InfoNce.create().withTemperature(0.07f);
        final NtXent ntXent = NtXent.create();
        final ClipLoss clip = ClipLoss.create();
        final LinearCrossEntropy linear = LinearCrossEntropy.create().withBlockRows(8);

        /** One call; true when it was refused (as it should be). */
        boolean call(SplittableRandom rnd, Backend backend) {
            int op = rnd.nextInt(9), form = rnd.nextInt(4);
            boolean refuse = rnd.nextInt(8) == 0;
            int n = 8 + rnd.nextInt(57), c = 2 + rnd.nextInt(200), d = 4 + rnd.nextInt(60);
            try {
                switch (form) {
                    case 0 -> { // new tensors, each closed
                        try (Tensor a = gaussians(rnd, n, c); Tensor b = gaussians(rnd, n, c); Tensor t = targets(rnd, n, c, refuse)) {
                            run(op, backend, a, b, t, refuse, rnd);
                        }
                    }
                    case 1 -> { // a scope
                        try (TensorScope scope = TensorScope.open()) {
                            run(op, backend, gaussians(rnd, n, c), gaussians(rnd, n, c), targets(rnd, n, c, refuse), refuse, rnd);
                        }
                    }
                    case 2 -> { // the caller's confined arena
                        try (Arena arena = Arena.ofConfined()) {
                            run(op, backend, wrap(arena, rnd, n, c), wrap(arena, rnd, n, c), targets(rnd, n, c, refuse), refuse, rnd);
                        }
                    }
                    default -> { // into-buffer forms, a closed tensor when refused
                        try (TensorScope scope = TensorScope.open()) {
                            Tensor logits = gaussians(rnd, n, c), grad = Tensor.zeros(DType.FLOAT32, n, c), loss = Tensor.zeros(DType.FLOAT32);
                            Tensor t = targets(rnd, n, c, false);
                            if (refuse) grad.close();
                            CrossEntropy pinned = ce.withBackend(backend);
                            pinned.forwardBackward(logits, t, loss, grad);
                            Tensor q = gaussians(rnd, n, d), k = gaussians(rnd, n, d), dq = Tensor.zeros(DType.FLOAT32, n, d),
                                    dk = Tensor.zeros(DType.FLOAT32, n, d), l2 = Tensor.zeros(DType.FLOAT32);
                            infoNce.withBackend(backend).forwardBackward(q, k, l2, dq, dk);
                        }
                    }
                }
            } catch (IllegalArgumentException | IllegalStateException e) {
                if (!refuse) throw e;
                return true;
            }
            if (refuse && form == 3) throw new AssertionError("a closed gradient buffer was accepted");
            return false;
        }

        private void run(int op, Backend backend, Tensor a, Tensor b, Tensor t, boolean refuse, SplittableRandom rnd) {
            long n = a.size(0), c = a.size(1);
            // a refused call of the matrix ops: shapes that do not fit (b cut by one row)
            Tensor other = refuse && op >= 2 ? b.rows(0, n - 1) : b;
            switch (op) {
                case 0 -> {
                    try (CrossEntropy.Result r = ce.withBackend(backend).forwardBackward(a, t)) {
                        r.loss().item();
                    }
                }
                case 1 -> {
                    try (Tensor logp = softmax.withBackend(backend).withFunction(Softmax.Function.LOG_SOFTMAX).forward(a);
                         Tensor l = nll.withBackend(backend).forward(logp, t)) {
                        l.item();
                    }
                }
                case 2 -> {
                    try (Tensor y = Tensor.zeros(DType.FLOAT32, other.shape())) {
                        bce.withBackend(backend).forwardBackward(a, y).close();
                    }
                }
                case 3 -> softmax.withBackend(backend).forwardBackward(a, other).close();
                case 4 -> normalize.withBackend(backend).backward(a, other).close();
                case 5 -> infoNce.withBackend(backend).forwardBackward(a, other).close();
                case 6 -> ntXent.withBackend(backend).forwardBackward(refuse ? a.rows(0, n - 1 - n % 2) : a.rows(0, n - n % 2)).close();
                case 7 -> clip.withBackend(backend).forwardBackward(a, other).close();
                default -> { // refused: a classifier of another width
                    try (Tensor w = gaussians(rnd, 3 + rnd.nextInt(40), refuse ? c + 1 : c); Tensor y = bounded(t, w.size(0));
                         LinearCrossEntropy.Result r = linear.withBackend(backend).forwardBackward(a, w, null, y)) {
                        r.loss().item();
                    }
                }
            }
        }

        /** Targets reduced into [0, v) (or the ignore index), as a new tensor of the same scope. */
        private static Tensor bounded(Tensor t, long v) {
            long[] y = new long[(int) t.numel()];
            for (int i = 0; i < y.length; i++) {
                long x = t.segment().getAtIndex(ValueLayout.JAVA_LONG, i);
                y[i] = x < 0 ? x : x % v;
            }
            return Tensor.of(y);
        }

        @Override
        public void close() {
        }
    }

    static Tensor gaussians(SplittableRandom rnd, long rows, long cols) {
        float[] x = new float[(int) (rows * cols)];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        return Tensor.of(x, rows, cols);
    }

    /** Class targets in [0, c), one in six ignored (-100); when refuse, one out of range. */
    static Tensor targets(SplittableRandom rnd, long n, long c, boolean refuse) {
        long[] y = new long[(int) n];
        for (int i = 0; i < y.length; i++) y[i] = rnd.nextInt(6) == 0 ? -100 : rnd.nextLong(c);
        if (refuse) y[rnd.nextInt(y.length)] = c + 3;
        return Tensor.of(y);
    }

    static Tensor wrap(Arena arena, SplittableRandom rnd, long rows, long cols) {
        MemorySegment s = arena.allocate(ValueLayout.JAVA_FLOAT, rows * cols);
        for (long i = 0; i < rows * cols; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextGaussian());
        return Tensor.wrap(s, DType.FLOAT32, rows, cols);
    }
}
