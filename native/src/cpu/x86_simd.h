/*
 * x86_simd.h: the AVX2/FMA intrinsics jnce's fast paths use, and JNCE_TARGET_AVX2, the attribute
 * that compiles one function for AVX2+FMA (the rest of the library stays baseline x86-64; the
 * path is chosen at run time by jnce_use_avx2). On other architectures (linux-aarch64) the same
 * intrinsics come from SIMDe (Debian's libsimde-dev, header-only), which maps them onto NEON, and
 * the attribute is empty: one source for both, and the scalar reference beside it as everywhere.
 */
#ifndef JNCE_X86_SIMD_H
#define JNCE_X86_SIMD_H
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define JNCE_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define JNCE_SIMD_NAME "avx2+fma"
#else
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx2.h>
#include <simde/x86/fma.h>
/* the aliases SIMDe 0.7.4 leaves out */
#ifndef _MM_FROUND_NO_EXC
#define _MM_FROUND_NO_EXC SIMDE_MM_FROUND_NO_EXC
#endif
#ifndef _MM_FROUND_TO_NEAREST_INT
#define _MM_FROUND_TO_NEAREST_INT SIMDE_MM_FROUND_TO_NEAREST_INT
#endif
#define JNCE_TARGET_AVX2
#define JNCE_SIMD_NAME "avx2+fma through SIMDe"
#endif
#endif
