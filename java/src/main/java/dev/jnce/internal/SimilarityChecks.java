package dev.jnce.internal;

import dev.jnce.Backend;
import dev.jnce.DType;
import dev.jnce.Tensor;

/**
 * Argument checks shared by the similarity family (Matmul, Normalize, Similarity,
 * CosineSimilarity, HardNegatives, TripletMarginLoss). Messages name the argument and the
 * shapes seen and expected.
 */
public final class SimilarityChecks {
    private SimilarityChecks() {
    }

    /** An open, non-empty float32 matrix {@code meaning} (e.g. "(N, D)") on the backend; returns its shape. */
    public static long[] matrix(String argument, Tensor t, Backend backend, String meaning) {
        Checks.usable(argument, t, backend);
        Checks.dtype(argument, t, DType.FLOAT32);
        if (t.rank() != 2) {
            throw new IllegalArgumentException(argument + ": expected shape " + meaning + ", got "
                    + Tensor.formatShape(t.shape()));
        }
        if (t.numel() == 0) {
            throw new IllegalArgumentException(argument + ": empty, shape " + Tensor.formatShape(t.shape())
                    + "; expected " + meaning + " with both sizes >= 1");
        }
        return t.shape();
    }

    /** b has a's number of columns (the feature dimension D). */
    public static void sameFeatures(String argA, Tensor a, String argB, Tensor b) {
        if (a.size(-1) != b.size(-1)) {
            throw new IllegalArgumentException(argB + ": feature dimension D = " + b.size(-1) + " differs from " + argA
                    + "'s D = " + a.size(-1) + " (shapes " + Tensor.formatShape(a.shape()) + " and "
                    + Tensor.formatShape(b.shape()) + ")");
        }
    }

    /** An open float32 tensor of exactly this shape. */
    public static void output(String argument, Tensor t, Backend backend, String meaning, long... shape) {
        Checks.usable(argument, t, backend);
        Checks.dtype(argument, t, DType.FLOAT32);
        Checks.shape(argument, t, meaning, shape);
    }

    /** out shares no memory with in; named by both arguments if it does. */
    public static void noOverlap(String outArg, Tensor out, String inArg, Tensor in) {
        if (out != null && in != null && out.segment().asOverlappingSlice(in.segment()).isPresent()) {
            throw new IllegalArgumentException(outArg + ": shares memory with " + inArg + "; use a separate tensor");
        }
    }

    /** eps is finite and >= 0; returned as the float the kernels take. */
    public static float eps(double eps) {
        if (!(eps >= 0) || Double.isInfinite(eps)) {
            throw new IllegalArgumentException("eps: must be finite and >= 0, got " + eps);
        }
        return (float) eps;
    }
}
