package dev.jnce.backend.java;

import dev.jnce.internal.HostCrossEntropy;
import dev.jnce.DType;
import dev.jnce.Tensor;
import dev.jnce.backend.CrossEntropyCall;
import dev.jnce.backend.CrossEntropyKernels;
import dev.jnce.internal.Parallel;
import dev.jnce.Reduction;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Softmax cross-entropy in Java: the algorithm and meaning of native/src/cpu/cross_entropy.c
 * (see jnce.h), on {@link RowOps} so that the same code runs scalar or with the Vector API.
 * Per row with class targets and a gradient apart from the logits: the maximum with the dot
 * product smoothing needs, exp(x - max) into the gradient with its sum, then one pass scaling the
 * gradient (CACHED_ROW). Forward only, the first two of these without the store (so that its
 * loss has the bits of the forward+backward call's). Otherwise:
 * statistics in one read (online softmax), the dot products, then one pass writing the gradient;
 * probability targets add plain loops over their row.
 */
final class JavaCrossEntropy implements CrossEntropyKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    /**
     * Rows of up to this many classes are read three times while they sit in cache, as
     * cross_entropy.c's short rows: the maximum, exp(x - max) written into the gradient with its
     * sum, then one pass scaling it. One exponential a logit instead of two.
     */
    private static final int CACHED_ROW = 65536;
    /*
     * Forward only, the smoothing's dot product rides on the maximum's pass (peakDot) at every
     * row length, as in the forward+backward call. Moving it into the exponentials' pass, which
     * reads the row from cache, kept the pass from memory to the row alone: on a Zen 5 VM that
     * took (1024, 16384) from 3.9 to 3.1-3.3 ms (JMH), but on a 2-core Xeon VM that loop ran
     * 40% slower than the exponentials alone (4.9 against 3.5 us a row of 16384 from cache),
     * and the call took 2.23-2.25 times cpu's time against 1.92-1.96 with the dot in the first
     * pass (paired, ad-hoc).
     */
    private final RowOps ops;

    JavaCrossEntropy(RowOps ops) {
        this.ops = ops;
    }

    @Override
    public void crossEntropy(CrossEntropyCall call) {
        new Run(call).execute();
    }

    @Override
    public void perplexity(Tensor meanLoss, Tensor perplexity, Tensor grad) {
        float value = (float) Math.exp(meanLoss.segment().get(F, 0)); // read before perplexity, which may alias it
        perplexity.segment().set(F, 0, value);
        if (grad == null) return;
        MemorySegment g = grad.segment();
        for (long k = 0, m = grad.numel(); k < m; k++) {
            float gk = g.getAtIndex(F, k);
            if (gk != 0f) g.setAtIndex(F, k, gk * value); // a zero (ignored) gradient stays zero when exp(L) is NaN or Inf
        }
    }

    /** The state of one call. */
    private final class Run {
        final CrossEntropyCall c;
        final int n, classes;
        final MemorySegment x, probs, weight, mask, grad, lse;
        /** The class targets (null with probability targets), and whether they are int64. */
        final MemorySegment targets;
        final boolean longTargets;
        final float eps;
        final double[] rowLoss, rowZ;
        /** Rows of class targets take the cached three passes (see row) when the gradient is apart from the logits or is them. */
        final boolean cached;
        final AtomicLong badRow = new AtomicLong(Long.MAX_VALUE);
        double wTotal, denom, counted, scale, zscale;

        Run(CrossEntropyCall c) {
            this.c = c;
            n = Math.toIntExact(c.n());
            classes = Math.toIntExact(c.c());
            x = c.logits().segment();
            probs = c.probs() == null ? null : c.probs().segment();
            targets = c.probs() == null ? c.targets().segment() : null;
            longTargets = targets != null && c.targets().dtype() == DType.INT64;
            weight = c.weight() == null ? null : c.weight().segment();
            mask = c.rowMask() == null ? null : c.rowMask().segment();
            grad = c.grad() == null ? null : c.grad().segment();
            lse = c.lse() == null ? null : c.lse().segment();
            eps = c.labelSmoothing();
            rowLoss = new double[n];
            rowZ = new double[n];
            cached = grad != null && probs == null && classes <= CACHED_ROW
                    && (x.asOverlappingSlice(grad).isEmpty() || x.address() == grad.address()); // apart, or in place
        }

        long target(int i) {
            return longTargets ? targets.getAtIndex(ValueLayout.JAVA_LONG, i) : targets.getAtIndex(ValueLayout.JAVA_INT, i);
        }

        boolean counted(int i) {
            if (mask != null && mask.getAtIndex(ValueLayout.JAVA_INT, i) == 0) return false;
            return probs != null || target(i) != c.ignoreIndex();
        }

        float w(long j) {
            return weight == null ? 1f : weight.getAtIndex(F, j);
        }

        void execute() {
            denominators();
            boolean mean = c.reduction() == Reduction.MEAN;
            boolean emptyZero = mean && c.zeroIfEmpty() && counted == 0;
            scale = emptyZero ? 0 : mean ? 1 / denom : 1;
            zscale = emptyZero ? 0 : mean ? 1 / counted : 1;

            Parallel.forRange(n, Math.max(1, 65536 / classes), (begin, end) -> {
                for (long i = begin; i < end; i++) row((int) i);
            });
            if (badRow.get() != Long.MAX_VALUE) {
                throw new IllegalArgumentException("targets: row " + badRow.get() + " is not a probability distribution (entries "
                        + "must be >= 0 and sum to 1 within 1e-3) for logits of shape (" + n + ", " + classes + ")");
            }
            MemorySegment loss = c.loss().segment();
            if (c.reduction() == Reduction.NONE) {
                for (int i = 0; i < n; i++) loss.setAtIndex(F, i, (float) (rowLoss[i] + c.zLoss() * rowZ[i]));
                return;
            }
            double ce = 0, z = 0;
            for (int i = 0; i < n; i++) {
                ce += rowLoss[i];
                z += rowZ[i];
            }
            double total = !mean ? ce + c.zLoss() * z
                    : emptyZero ? 0 : ce / denom + (c.zLoss() > 0 ? c.zLoss() * z / counted : 0);
            loss.set(F, 0, (float) total);
        }

        /**
         * The mean's denominators, from the weights and the targets alone; the value checks of
         * the call ride on this pass, as in cross_entropy.c: every weight finite, every class
         * target in [0, C) or the ignore index (masked rows included). Nothing is written before.
         */
        void denominators() {
            for (int j = 0; j < classes; j++) {
                float wj = w(j);
                if (!Float.isFinite(wj)) throw new IllegalArgumentException("weight[" + j + "] = " + wj + " is not finite");
                wTotal += wj;
            }
            for (int i = 0; i < n; i++) {
                long y = probs == null ? target(i) : 0;
                if (probs == null && y != c.ignoreIndex() && (y < 0 || y >= classes)) {
                    throw new IllegalArgumentException("targets[" + i + "] = " + y + " is outside [0, " + classes
                            + ") for logits of shape (" + n + ", " + classes + ") and is not the ignore index "
                            + c.ignoreIndex());
                }
                if (!counted(i)) continue;
                counted++;
                denom += probs == null ? w(y) : 1.0;
            }
        }

        /**
         * torch.logsumexp of a row the passes could not sum: NaN if it holds NaN, else +Inf if it
         * holds +Inf, else (every entry -Inf) -Inf. Read before the gradient, which may be the
         * logits, is written.
         */
        private float specialLse(long off) {
            float out = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < classes; j++) {
                float v = x.get(F, off + 4L * j);
                if (Float.isNaN(v)) return Float.NaN;
                if (v == Float.POSITIVE_INFINITY) out = v;
            }
            return out;
        }

        void row(int i) {
            long off = 4L * i * classes;
            boolean keep = counted(i);
            if (!keep && lse == null) {
                zeroGrad(off);
                return;
            }
            boolean threePass = cached && keep;
            // forward only, a row that stays in cache: the maximum, then the sum of exp(x - max) with the dot product
            boolean twoPass = grad == null && classes <= CACHED_ROW;
            RowOps.Stats st;
            float xy = 0; // x at the target and sum_j w_j x_j: read before exp(x - max) may overwrite x (in place)
            double wxRead = 0;
            if (threePass || twoPass) { // the maximum, then exp(x - max) into the gradient (or nowhere) with its sum
                boolean dot = eps > 0 && keep;
                if (threePass) {
                    RowOps.Peak peak = dot ? ops.peakDot(x, off, classes, weight) : ops.peak(x, off, classes);
                    xy = x.get(F, off + 4 * target(i));
                    wxRead = peak.dot();
                    st = new RowOps.Stats(peak.max(), peak.bad() ? 0 : ops.expInto(x, off, classes, peak, grad, off), peak.bad());
                } else {
                    RowOps.Peak peak = dot ? ops.peakDot(x, off, classes, weight) : ops.peak(x, off, classes);
                    wxRead = peak.dot();
                    st = new RowOps.Stats(peak.max(), peak.bad() ? 0 : ops.expInto(x, off, classes, peak, null, 0), peak.bad());
                }
            } else {
                st = ops.stats(x, off, classes);
            }
            double l = st.lse();
            if (lse != null) lse.setAtIndex(F, i, st.bad() || st.sum() == 0 ? specialLse(off) : (float) l);
            if (!keep) {
                zeroGrad(off);
                return;
            }
            double wt = 0, wtx = 0;
            if (probs != null) {
                double tsum = 0;
                boolean tbad = false;
                for (int j = 0; j < classes; j++) {
                    float t = probs.get(F, off + 4L * j);
                    tbad |= !(t >= 0);
                    tsum += t;
                    wt += w(j) * t;
                    wtx += (double) w(j) * t * x.get(F, off + 4L * j);
                }
                if (tbad || Math.abs(tsum - 1) > 1e-3) {
                    badRow.accumulateAndGet(i, Math::min); // the first bad row, whatever the threads
                    return;
                }
            }
            if (Double.isNaN(l)) {
                rowLoss[i] = Double.NaN;
                rowZ[i] = Double.NaN;
                if (grad != null) grad.asSlice(off, 4L * classes).fill((byte) 0xff); // all-ones bits: NaN
                return;
            }
            double wx = threePass || twoPass ? wxRead : eps > 0 ? ops.dot(x, off, weight, classes) : 0;
            double qSum, qx, wy = 0;
            long y = -1;
            if (probs == null) {
                y = target(i);
                wy = w(y);
                qSum = (1 - eps) * wy + eps / classes * wTotal;
                qx = (1 - eps) * wy * (threePass ? xy : x.get(F, off + 4 * y)) + eps / classes * wx;
            } else {
                qSum = (1 - eps) * wt + eps / classes * wTotal;
                qx = (1 - eps) * wtx + eps / classes * wx;
            }
            rowLoss[i] = qSum * l - qx;
            rowZ[i] = l * l;
            if (grad == null) return;
            double coef = scale * qSum + zscale * 2 * c.zLoss() * l;
            if (threePass) {
                ops.scaleMinus(grad, off, classes, (float) (coef / st.sum()), (float) (scale * eps / classes), weight);
            } else {
                ops.expScaledMinus(x, off, classes, st.max(), (float) (coef / st.sum()), (float) (scale * eps / classes),
                        weight, grad, off);
            }
            float k2 = (float) (scale * (1 - eps));
            if (probs == null) {
                long at = off + 4 * y;
                grad.set(F, at, grad.get(F, at) - (float) (scale * (1 - eps) * wy));
            } else {
                for (int j = 0; j < classes; j++) {
                    long at = off + 4L * j;
                    grad.set(F, at, grad.get(F, at) - k2 * w(j) * probs.get(F, at));
                }
            }
        }

        void zeroGrad(long off) {
            if (grad != null) grad.asSlice(off, 4L * classes).fill((byte) 0);
        }
    }

    @Override
    public double[] classTargetTotals(Tensor targets, Tensor weight, long ignoreIndex, long classes) {
        return HostCrossEntropy.classTargetTotals(targets, weight, ignoreIndex, classes);
    }

    @Override
    public void softcap(Tensor s, float cap) {
        HostCrossEntropy.softcap(s, cap);
    }

    @Override
    public void softcapBackward(Tensor capped, Tensor grad, float cap) {
        HostCrossEntropy.softcapBackward(capped, grad, cap);
    }
}
