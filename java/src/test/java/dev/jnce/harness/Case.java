package dev.jnce.harness;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One fuzz case: the random source, the backend, the call's arguments as declared by a family
 * (name, role, dtype, shape), at most one injected fault, and the oracle. A family declares its
 * arguments, lets the case {@link #plan} a fault, builds every tensor through {@link #tensor} and
 * {@link #output}, states the float64 expectations ({@link #expect}) and runs the call in
 * {@link #run}. The verdict is one of: the outputs match the expectations within their
 * tolerances; or the call threw the expected exception type with a message naming an offending
 * argument; or a failure, described well enough to replay.
 */
public final class Case {
    /** What the oracle accepts. */
    public enum Expect {
        /** The outputs must match. */
        MATCH,
        /** The call must throw the expected exception naming an offending argument. */
        REJECT,
        /** Either of the two. */
        EITHER
    }

    /** The generic faults a case can inject into a declared argument. */
    enum Fault { NONE, DTYPE, NULL, CLOSED, CLOSED_ARENA, WRONG_THREAD, READ_ONLY_OUT, OUT_SHAPE, ALIAS_EXACT, ALIAS_ROW, OUTPUTS_OVERLAP }

    /** A declared tensor argument. */
    public final class Arg {
        final String name;
        final boolean output;
        DType dtype;
        final DType[] allowed;
        final long[] shape;
        boolean optional, oneElement, noFaults, anyRows;
        Tensor made;

        Arg(String name, boolean output, DType[] allowed, long[] shape) {
            this.name = name;
            this.output = output;
            this.allowed = allowed;
            this.dtype = allowed.length == 1 ? allowed[0] : g.pick(allowed);
            this.shape = shape;
        }

        /** null is a valid value (no NULL fault). */
        public Arg optional() {
            optional = true;
            return this;
        }

        /** A loss buffer of reduction MEAN or SUM: any one-element shape is valid. */
        public Arg oneElement() {
            oneElement = true;
            return this;
        }

        /** Any size of dimension 0 is valid (it defines a size no other argument gives): shape faults change the rest. */
        public Arg anyRows() {
            anyRows = true;
            return this;
        }

        /** No generic fault is injected into this argument. */
        public Arg noFaults() {
            noFaults = true;
            return this;
        }

        public DType dtype() {
            return dtype;
        }
    }

    public final Gen g;
    public final long seed, index;
    /** The backend this case runs on, and whether the loss is pinned to it (else it is forced with Backends.use). */
    public final Backend backend;
    public final boolean pinned;
    private final Storage storage = new Storage();
    private final StringBuilder desc = new StringBuilder();
    private final Map<String, Arg> args = new LinkedHashMap<>();
    private final Set<String[]> allowedAliases = new LinkedHashSet<>();
    private final Map<String, Expected> expected = new LinkedHashMap<>();
    private final Map<String, float[]> actual = new LinkedHashMap<>();
    String op = "?";
    Expect expect = Expect.MATCH;
    Class<? extends RuntimeException> errorType;
    final Set<String> names = new LinkedHashSet<>();
    KnownOpen open;
    private Expect overlapPolicy = Expect.REJECT;
    Fault fault = Fault.NONE;
    private Arg faultArg, faultOther;
    private MemorySegment shared;      // the buffer of ALIAS_ROW / OUTPUTS_OVERLAP
    private long firstOffset, secondOffset;
    /** Replays print each call before it runs, so that a crash shows what it was running. */
    static boolean announce;
    /** -Djnce.fuzz.ops: a regular expression; cases of other ops are skipped (to chase one op's failures). */
    static java.util.regex.Pattern only;
    /** The known-open classes enforced in this run (others' failures are tallied apart; crashing ones do not run). */
    static java.util.Set<KnownOpen> enforced = java.util.EnumSet.noneOf(KnownOpen.class);
    String verdict;                    // null until judged: "match", "error" or the failure's text
    boolean judged;
    private KnownOpen tagged;          // the known-open class an output's mismatch set

    /** Case {@code index} of {@code seed}, on one of {@code backends}: pinned to it, or (cpu and java only) forced with Backends.use. */
    Case(long seed, long index, List<Backend> backends) {
        this.seed = seed;
        this.index = index;
        this.g = new Gen(seed, index);
        this.backend = g.pick(backends);
        boolean forcible = backend.toString().equals("cpu") || backend.toString().equals("java(vector)");
        this.pinned = !forcible || g.chance(0.7);
    }

    /** Applies the backend choice to a loss or op: its withBackend when pinned, else nothing (Backends.use is in force). */
    public <T> T on(T unpinned, java.util.function.Function<Backend, T> withBackend) {
        return pinned ? withBackend.apply(backend) : unpinned;
    }

    // ---- description --------------------------------------------------------------------------

    /** Names the op (the per-op tally key) and starts the description. */
    public Case op(String name) {
        op = name;
        return this;
    }

    /** Adds to the description ("key=value" pieces). */
    public Case note(String text) {
        if (!desc.isEmpty()) desc.append(' ');
        desc.append(text);
        return this;
    }

    String description() {
        String f = fault == Fault.NONE ? "" : " fault=" + fault + "(" + faultArg.name
                + (faultOther != null ? "," + faultOther.name : "") + ")";
        return op + " on " + backend + (pinned ? " (pinned)" : " (Backends.use)") + " " + desc + f;
    }

    // ---- arguments ----------------------------------------------------------------------------

    /** Declares an input tensor argument; several dtypes mean any of them is valid (one is picked). */
    public Arg in(String name, long[] shape, DType... allowed) {
        Arg a = new Arg(name, false, allowed, shape);
        args.put(name, a);
        return a;
    }

    /** Declares a float32 output buffer. */
    public Arg out(String name, long... shape) {
        return out(name, DType.FLOAT32, shape);
    }

    /** Declares an output buffer of another dtype (indices). */
    public Arg out(String name, DType dtype, long... shape) {
        Arg a = new Arg(name, true, new DType[] {dtype}, shape);
        args.put(name, a);
        return a;
    }

    public Arg arg(String name) {
        return args.get(name);
    }

    /** Declares that output {@code out} may be input {@code in} itself (documented in-place use). */
    public Case allowAlias(String out, String in) {
        allowedAliases.add(new String[] {out, in});
        return this;
    }

    /** What the op's contract says of outputs that overlap inputs or each other (other than allowed aliases). */
    public Case overlaps(Expect policy) {
        overlapPolicy = policy;
        return this;
    }

    /** Maybe picks one generic fault among the declared arguments. */
    public void plan(double probability) {
        if (!g.chance(probability)) return;
        List<Arg> all = args.values().stream().filter(a -> !a.noFaults).toList();
        List<Arg> outs = all.stream().filter(a -> a.output).toList();
        List<Arg> ins = all.stream().filter(a -> !a.output).toList();
        for (int attempt = 0; attempt < 6 && fault == Fault.NONE; attempt++) {
            Fault f = g.pick(Fault.DTYPE, Fault.DTYPE, Fault.NULL, Fault.CLOSED, Fault.CLOSED_ARENA, Fault.WRONG_THREAD,
                    Fault.READ_ONLY_OUT, Fault.OUT_SHAPE, Fault.OUT_SHAPE, Fault.ALIAS_EXACT, Fault.ALIAS_EXACT,
                    Fault.ALIAS_ROW, Fault.ALIAS_ROW, Fault.OUTPUTS_OVERLAP);
            switch (f) {
                case DTYPE, CLOSED, CLOSED_ARENA, WRONG_THREAD -> {
                    if (!all.isEmpty()) choose(f, g.pick(all), null);
                }
                case NULL -> {
                    List<Arg> required = all.stream().filter(a -> !a.optional).toList();
                    if (!required.isEmpty()) choose(f, g.pick(required), null);
                }
                case READ_ONLY_OUT, OUT_SHAPE -> {
                    if (!outs.isEmpty()) choose(f, g.pick(outs), null);
                }
                case ALIAS_EXACT -> {
                    List<Arg[]> pairs = new ArrayList<>();
                    for (Arg o : outs) {
                        for (Arg other : all) {
                            if (other != o && other.dtype == DType.FLOAT32 && Arrays.equals(other.shape, o.shape)
                                    && (!other.output || outs.indexOf(other) < outs.indexOf(o))) {
                                pairs.add(new Arg[] {o, other});
                            }
                        }
                    }
                    if (!pairs.isEmpty()) {
                        Arg[] p = g.pick(pairs);
                        choose(f, p[0], p[1]);
                    }
                }
                case ALIAS_ROW -> {
                    if (!outs.isEmpty() && !ins.isEmpty()) choose(f, g.pick(outs), g.pick(ins));
                }
                case OUTPUTS_OVERLAP -> {
                    if (outs.size() >= 2) {
                        Arg a = g.pick(outs), b = g.pick(outs);
                        if (a != b) choose(f, a, b);
                    }
                }
                default -> throw new AssertionError(f);
            }
        }
    }

    private void choose(Fault f, Arg a, Arg other) {
        if (f == Fault.DTYPE && wrongDtype(a) == null) return;
        if (f == Fault.OUT_SHAPE && a.oneElement && a.shape.length > 1) return;
        if ((f == Fault.ALIAS_ROW || f == Fault.OUTPUTS_OVERLAP)
                && (Storage.numel(a.shape) == 0 || Storage.numel(other.shape) == 0)) return; // nothing to overlap
        if ((f == Fault.ALIAS_ROW || f == Fault.OUTPUTS_OVERLAP) && (shift(a, other) == 0 || shift(other, a) == 0)) {
            return; // too small to overlap in part: the "overlap" would be an exact alias
        }
        fault = f;
        faultArg = a;
        faultOther = other;
        switch (f) {
            case DTYPE, NULL, OUT_SHAPE -> reject(IllegalArgumentException.class, null, a.name);
            case CLOSED -> reject(IllegalStateException.class, null, a.name);
            case CLOSED_ARENA, WRONG_THREAD -> reject(IllegalStateException.class, null, a.name);
            case READ_ONLY_OUT -> reject(IllegalArgumentException.class, null, a.name);
            case ALIAS_EXACT, ALIAS_ROW, OUTPUTS_OVERLAP -> {
                boolean allowed = f == Fault.ALIAS_EXACT && allowedAliases.stream()
                        .anyMatch(p -> p[0].equals(a.name) && p[1].equals(other.name));
                if (!allowed) {
                    expect = overlapPolicy;
                    errorType = IllegalArgumentException.class;
                    names.add(a.name);
                    names.add(other.name);
                }
            }
            default -> throw new AssertionError(f);
        }
        if (f == Fault.ALIAS_ROW || f == Fault.OUTPUTS_OVERLAP) {
            Arg first = g.chance(0.5) ? a : other, second = first == a ? other : a;
            long shift = shift(first, second);
            long end = Math.max(Storage.bytes(first.dtype, Storage.numel(first.shape)),
                    shift + Storage.bytes(second.dtype, Storage.numel(second.shape)));
            shared = storage.raw(end);
            firstOffset = first == a ? 0 : shift;
            secondOffset = first == a ? shift : 0;
            // firstOffset belongs to a, secondOffset to other
        }
    }

    /** Where the second of two overlapping tensors starts in the first: one row in (half way for a single row), aligned for both dtypes. */
    private static long shift(Arg first, Arg second) {
        long firstBytes = Storage.bytes(first.dtype, Storage.numel(first.shape));
        long rowBytes = first.shape.length <= 1 ? first.dtype.byteSize()
                : Storage.numel(first.shape) / Math.max(1, first.shape[0]) * first.dtype.byteSize();
        long align = Math.max(first.dtype.byteSize(), second.dtype.byteSize());
        return (rowBytes < firstBytes ? rowBytes : firstBytes / 2) / align * align;
    }

    private DType wrongDtype(Arg a) {
        List<DType> wrong = new ArrayList<>(List.of(DType.values()));
        wrong.removeAll(List.of(a.allowed));
        return wrong.isEmpty() ? null : wrong.get(0) == DType.FLOAT32 || wrong.size() == 1 ? wrong.get(0) : g.pick(wrong);
    }

    /** The tensor of input {@code name} holding data (float[] for float32, long[] for int32 and int64), or the fault's stand-in. */
    public Tensor tensor(String name, Object data) {
        Arg a = args.get(name);
        if (a == null) throw new AssertionError("fuzz harness: undeclared argument " + name);
        a.made = build(a, data);
        if (announce) System.out.println("FUZZ-DATA " + name + " " + a.dtype + Arrays.toString(a.shape) + " = " + text(data));
        return a.made;
    }

    /** A float32 output buffer of the declared shape, filled with NaN (every element must be written). */
    public Tensor output(String name) {
        Arg a = args.get(name);
        float[] nan = new float[(int) Storage.numel(a.shape)];
        Arrays.fill(nan, Float.NaN);
        return output(name, nan);
    }

    /** A float32 output buffer holding {@code initial} (for ops that accumulate into it). */
    public Tensor output(String name, float[] initial) {
        return tensor(name, initial);
    }

    private Tensor build(Arg a, Object data) {
        boolean mine = faultArg == a, partner = faultOther == a;
        if (mine || partner) {
            switch (fault) {
                case DTYPE:
                    if (mine) return storage.make(Storage.Kind.ZEROS, wrongDtype(a), a.shape, data);
                    break;
                case NULL:
                    return null;
                case CLOSED: {
                    Tensor t = storage.make(Storage.Kind.ZEROS, a.dtype, a.shape, data);
                    t.close();
                    return t;
                }
                case CLOSED_ARENA:
                    return storage.closedArena(a.dtype, a.shape, data);
                case WRONG_THREAD:
                    return storage.otherThread(a.dtype, a.shape, data);
                case READ_ONLY_OUT:
                    return storage.make(Storage.Kind.READ_ONLY, a.dtype, a.shape, data);
                case OUT_SHAPE: {
                    long[] s = wrongShape(a.shape);
                    return storage.make(Storage.Kind.ZEROS, a.dtype, s, new float[(int) Storage.numel(s)]);
                }
                case ALIAS_EXACT:
                    if (mine) {
                        if (faultOther.made == null) throw new AssertionError("fuzz harness: alias " + a.name + " made before " + faultOther.name);
                        return faultOther.made;
                    }
                    break;
                case ALIAS_ROW, OUTPUTS_OVERLAP: {
                    long offset = mine ? firstOffset : secondOffset;
                    MemorySegment seg = shared.asSlice(offset, Storage.bytes(a.dtype, Storage.numel(a.shape)));
                    if (!a.output) Storage.fill(seg, a.dtype, data); // an output's fill would overwrite the input it overlaps
                    return Tensor.wrap(seg, a.dtype, a.shape);
                }
                default:
                    break;
            }
        }
        Storage.Kind kind = g.pick(Storage.Kind.values());
        boolean written = a.output || fault == Fault.ALIAS_EXACT && partner; // an input an output aliases is written too
        if (kind == Storage.Kind.READ_ONLY && written) kind = Storage.Kind.WRAPPED;
        return storage.make(kind, a.dtype, a.shape, data);
    }

    private long[] wrongShape(long[] shape) {
        for (int attempt = 0; attempt < 10; attempt++) {
            long[] s = switch (g.nextInt(3)) {
                case 0 -> {
                    if (shape.length == 0) yield new long[] {2};
                    long[] c = shape.clone();
                    int d = g.nextInt(c.length);
                    c[d] = c[d] + (c[d] > 0 && g.chance(0.5) ? -1 : 1);
                    yield c;
                }
                case 1 -> {
                    long[] c = Arrays.copyOf(shape, shape.length + 1);
                    c[shape.length] = 2;
                    yield c;
                }
                default -> shape.length == 0 ? new long[] {0} : Arrays.copyOf(shape, shape.length - 1);
            };
            boolean stillValid = Arrays.equals(s, shape) || (faultArg.oneElement && Storage.numel(s) == 1)
                    || faultArg.anyRows && s.length == shape.length && Arrays.equals(Arrays.copyOfRange(s, 1, s.length),
                    Arrays.copyOfRange(shape, 1, shape.length));
            if (!stillValid) return s;
        }
        return new long[] {7, 7, 7};
    }

    // ---- expectations and the call ------------------------------------------------------------

    /**
     * The call must throw {@code type} (IllegalArgumentException or IllegalStateException) whose
     * message names one of {@code names}; {@code open} tags a known-open class, or null.
     */
    public void reject(Class<? extends RuntimeException> type, KnownOpen open, String... names) {
        expect = Expect.REJECT;
        errorType = type;
        this.names.addAll(List.of(names));
        if (open != null) this.open = open;
    }

    /** An expected error may also name these (two faults in one call: either may be found first). */
    public void alsoNames(String... more) {
        names.addAll(List.of(more));
    }

    /** The call may also throw an IllegalArgumentException naming one of these (a contract that allows both). */
    public void mayReject(String... names) {
        if (expect == Expect.MATCH) expect = Expect.EITHER;
        if (errorType == null) errorType = IllegalArgumentException.class;
        this.names.addAll(List.of(names));
    }

    /** Whether output {@code out} is the tensor {@code other} itself (an exact alias the case injected). */
    public boolean exactAlias(String out, String other) {
        return fault == Fault.ALIAS_EXACT && faultArg.name.equals(out) && faultOther.name.equals(other);
    }

    /** Whether the injected fault involves argument {@code name}. */
    public boolean faultTouches(String name) {
        return fault != Fault.NONE && (faultArg.name.equals(name) || faultOther != null && faultOther.name.equals(name));
    }

    /** Retags the case's known-open class (a fault whose current effect is worse than the family's default tag). */
    public void knownOpen(KnownOpen k) {
        open = k;
    }

    /** Whether the injected fault is a tensor of a closed arena (its memory freed). */
    public boolean closedArena() {
        return fault == Fault.CLOSED_ARENA;
    }

    /** Whether a generic fault was injected (the family then skips its own value faults). */
    public boolean faulted() {
        return fault != Fault.NONE;
    }

    public Expect expectation() {
        return expect;
    }

    /** Output {@code name} must equal {@code values} within tol * max(1, |expected|). */
    public void expect(String name, double[] values, double tol) {
        expected.put(name, new Expected(values, tol));
    }

    /**
     * As {@link #expect(String, double[], double)}, for an output whose documented or reference
     * value the library does not give yet: a mismatch there alone tags the case {@code open}.
     */
    public void expect(String name, double[] values, double tol, KnownOpen open) {
        expected.put(name, new Expected(values, tol, null, open, null));
    }

    /** As {@link #expect(String, double[], double)}, plus a per-element absolute bound (a sum's float32 rounding). */
    public void expect(String name, double[] values, double tol, double[] bounds) {
        expected.put(name, new Expected(values, tol, null, null, bounds));
    }

    /** Every expected output's name. */
    public java.util.Set<String> expectedNames() {
        return java.util.Set.copyOf(expected.keySet());
    }

    /** Tags output {@code name}'s expectation: a mismatch there alone is known-open {@code open}. */
    public void tagExpected(String name, KnownOpen open) {
        Expected e = expected.get(name);
        expected.put(name, new Expected(e.values(), e.tol(), e.indices(), open, e.bounds()));
    }

    public void expect(String name, double value, double tol) {
        expect(name, new double[] {value}, tol);
    }

    /** Only these (flat) indices of output {@code name} are checked (sampled gradients of larger cases). */
    public void expectAt(String name, int[] indices, double[] values, double tol) {
        expected.put(name, new Expected(values, tol, indices, null, null));
    }

    /** As {@link #expectAt(String, int[], double[], double)}, plus per-index absolute bounds. */
    public void expectAt(String name, int[] indices, double[] values, double tol, double[] bounds) {
        expected.put(name, new Expected(values, tol, indices, null, bounds));
    }

    /** Records an output read after the call. */
    public void got(String name, Tensor t) {
        actual.put(name, t.toFloatArray());
    }

    public void got(String name, float[] values) {
        actual.put(name, values);
    }

    public void got(String name, float value) {
        actual.put(name, new float[] {value});
    }

    /** A call with outputs to record. */
    @FunctionalInterface
    public interface Body {
        void call() throws Exception;
    }

    /** Runs the call and judges it. */
    public void run(Body body) {
        if (only != null && !only.matcher(op).find() || open != null && open.crashes && !enforced.contains(open)) {
            judged = true;
            verdict = "skipped";
            return;
        }
        if (announce) {
            System.out.println("FUZZ-CALL seed=" + seed + " case=" + index + " :: " + description());
            System.out.flush();
        }
        Throwable thrown = null;
        try {
            body.call();
        } catch (Throwable t) {
            thrown = t;
        }
        judge(thrown);
    }

    private void judge(Throwable thrown) {
        judged = true;
        if (thrown != null) {
            if (expect == Expect.MATCH) {
                verdict = "unexpected " + describe(thrown);
            } else if (!(thrown instanceof IllegalArgumentException || thrown instanceof IllegalStateException)) {
                verdict = "expected " + errorType.getSimpleName() + " naming " + names + ", got " + describe(thrown);
            } else if (errorType != null && !errorType.isInstance(thrown) && expect == Expect.REJECT) {
                verdict = "expected " + errorType.getSimpleName() + " naming " + names + ", got " + describe(thrown);
            } else if (!namesOne(thrown.getMessage())) {
                verdict = "the message does not name any of " + names + ": " + describe(thrown);
            } else {
                verdict = "error";
            }
            return;
        }
        if (expect == Expect.REJECT) {
            verdict = "accepted: expected " + errorType.getSimpleName() + " naming " + names;
            return;
        }
        for (Map.Entry<String, Expected> e : expected.entrySet()) {
            float[] got = actual.get(e.getKey());
            if (got == null) {
                verdict = "fuzz harness: output " + e.getKey() + " was not read";
                return;
            }
            String mismatch = e.getValue().compare(e.getKey(), got);
            if (announce && mismatch != null) {
                System.out.println("FUZZ-DATA expected " + e.getKey() + " = " + Arrays.toString(e.getValue().values()));
                System.out.println("FUZZ-DATA got " + e.getKey() + " = " + text(got));
            }
            if (mismatch != null) {
                if (verdict == null || e.getValue().open() == null) verdict = "wrong numbers: " + mismatch;
                if (e.getValue().open() == null) {
                    if (open != null && open == tagged) open = null; // a mismatch outside the tagged output
                    return;
                }
                if (open == null) open = tagged = e.getValue().open();
            }
        }
        if (verdict == null) verdict = "match";
    }

    private static String text(Object data) {
        String t = data instanceof float[] f ? Arrays.toString(f) : data instanceof long[] l ? Arrays.toString(l) : String.valueOf(data);
        return t.length() > 4000 ? t.substring(0, 4000) + "..." : t;
    }

    private boolean namesOne(String message) {
        if (message == null) return false;
        for (String n : names) {
            int from = 0, i;
            while ((i = message.indexOf(n, from)) >= 0) {
                boolean before = i == 0 || !Character.isLetterOrDigit(message.charAt(i - 1));
                int end = i + n.length();
                boolean after = end == message.length() || !Character.isLetterOrDigit(message.charAt(end));
                if (before && after) return true;
                from = i + 1;
            }
        }
        return false;
    }

    private static String describe(Throwable t) {
        StackTraceElement[] st = t.getStackTrace();
        String where = st.length == 0 ? "" : " at " + st[0];
        return t.getClass().getName() + ": " + t.getMessage() + where;
    }

    /** Frees the case's memory; a failure to do so is the case's failure. */
    void cleanup() {
        Throwable t = storage.close();
        if (t != null && ("match".equals(verdict) || "error".equals(verdict))) {
            verdict = "freeing the case's memory failed: " + describe(t);
        }
    }

    /**
     * An expected output: values (all, or at indices) and a tolerance relative to max(1,
     * |expected|); open tags a mismatch here as known-open.
     */
    private record Expected(double[] values, double tol, int[] indices, KnownOpen open, double[] bounds) {
        Expected(double[] values, double tol) {
            this(values, tol, null, null, null);
        }

        String compare(String name, float[] got) {
            if (indices == null && got.length != values.length) {
                return name + ": " + got.length + " values, expected " + values.length;
            }
            int count = indices == null ? values.length : indices.length;
            // float32 rounding of the largest value is the floor: p - 1 for p near 1 cancels to a few ulps of it
            double big = 0;
            for (double v : values) if (Double.isFinite(v)) big = Math.max(big, Math.abs(v));
            double floor = 2e-6 * big;
            for (int k = 0; k < count; k++) {
                int i = indices == null ? k : indices[k];
                if (i >= got.length) return name + ": index " + i + " missing (" + got.length + " values)";
                double e = values[k], a = got[i];
                if (!Double.isNaN(e) && Math.abs(e) > Float.MAX_VALUE * 1.0000001) {
                    e = Math.copySign(Double.POSITIVE_INFINITY, e); // overflows float32
                }
                if (Double.compare(e, a) == 0) continue;
                // within the tolerance of float32's overflow threshold (MAX + half an ulp), infinity is a rounding of e
                double slack = tol * Math.max(1, Math.abs(e)) + floor + (bounds == null ? 0 : bounds[k]);
                if (Double.isInfinite(a) && Double.isFinite(e) && Math.signum(a) == Math.signum(e)
                        && Math.abs(e) + slack >= Float.MAX_VALUE + Math.ulp(Float.MAX_VALUE) / 2.0) continue;
                if (Double.isNaN(e) != Double.isNaN(a) || Double.isInfinite(e) || Double.isInfinite(a)
                        || Math.abs(a - e) > tol * Math.max(1, Math.abs(e)) + floor + (bounds == null ? 0 : bounds[k])) {
                    return name + "[" + i + "] = " + a + ", expected " + e + " (tolerance " + tol + ")";
                }
            }
            return null;
        }
    }
}
