package dev.jnce.bench;

/**
 * Every shape the benchmarks use, in one place: the defaults of the JMH {@code @Param}s and the
 * scaling curves {@link Suite} runs. The PyTorch side ({@code bench/scripts/torch_suite.py})
 * reads the shapes back from the JMH results, so both sides always measure the same cases.
 * Letters as everywhere in jnce: N rows (batch), C classes, D features.
 */
public final class Shapes {
    /** (N,C) a large-vocabulary language-model head: 1 GB of float32 logits. */
    public static final String CE_LARGE = "8192x32000";
    /** (N,C) a tiny batch, where the call overhead and the argument checks dominate. */
    public static final String CE_TINY = "32x128";
    /** (N,C) logits of the softmax and NLL benchmarks: the large CE shape, for comparison. */
    public static final String LOGITS = CE_LARGE;
    /** (N,C) multi-label logits of binary cross-entropy with logits. */
    public static final String MULTILABEL = "8192x4096";
    /** (N,D) embeddings to L2-normalise: 64 MB, well beyond the last-level cache. */
    public static final String EMBEDDINGS = "65536x256";
    /** N = M rows of the similarity matrix and of the InfoNCE batch. */
    public static final String PAIRS_N = "4096";
    /** D features of the similarity matrix and of the InfoNCE batch. */
    public static final String PAIRS_D = "256";
    /** Side of the square sgemm that measures the machine's GEMM peak. */
    public static final String PEAK_GEMM = "3072";
    /** MiB per buffer of the copy that measures memory bandwidth (two buffers). */
    public static final String PEAK_COPY_MIB = "512";

    /** InfoNCE forward+backward scaling: N values (quick suite; the full one goes on). */
    public static final String INFONCE_SCALING_N = "512,1024,2048,4096,8192";
    public static final String INFONCE_SCALING_N_FULL = "512,1024,2048,4096,8192,16384";
    /** InfoNCE scaling: D values. */
    public static final String INFONCE_SCALING_D = "128,512";
    /** Cross-entropy scaling: N fixed, C from 1k to 128k (quick: every factor of 4, plus 128k). */
    public static final String CE_SCALING = "1024x1024,1024x4096,1024x16384,1024x65536,1024x131072";
    public static final String CE_SCALING_FULL =
            "1024x1024,1024x2048,1024x4096,1024x8192,1024x16384,1024x32768,1024x65536,1024x131072";

    private Shapes() {
    }

    /** "8192x32000" as {8192, 32000}. */
    public static long[] parse(String shape) {
        String[] parts = shape.split("x");
        long[] dims = new long[parts.length];
        for (int i = 0; i < parts.length; i++) dims[i] = Long.parseLong(parts[i].trim());
        return dims;
    }
}
