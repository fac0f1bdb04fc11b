package dev.jnce.backend.cuda;

/**
 * Precision of the CUDA backend's GEMMs (jnce.h's JNCE_CUDA_GEMM_*); accumulation is float32
 * in every mode.
 */
public enum GemmMode {
    /** float32 products (cublasSgemm): the reference. */
    FP32,
    /** Inputs rounded to TF32 (10-bit mantissa): relative error about 1e-3 per product. */
    TF32,
    /** Inputs rounded to bfloat16 (7-bit mantissa): relative error about 8e-3 per product. */
    BF16
}
