/*
 * runtime.c - error messages, thread count, SIMD choice and build description.
 *
 * Status codes and thread-local messages are how native failures reach Java: nothing here
 * prints or exits.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "x86_simd.h"

#define JNCE_VERSION_NUMBER 100 /* 0.1.0 */

/* Declared here rather than included, so only OpenBLAS's exported symbols are relied on. */
extern void openblas_set_num_threads(int threads);
extern char *openblas_get_config(void);

static _Thread_local char last_error[512];
static int32_t thread_count; /* 0 until first use: then all usable CPUs */

int32_t jnce_fail(int32_t status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, args);
    va_end(args);
    return status;
}

void jnce_format_float(char *buf, int64_t cap, float v) {
    if (buf == NULL || cap <= 0) return;
    if (isnan(v) || isinf(v) || v == 0.0f) {
        snprintf(buf, (size_t)cap, "%s", isnan(v) ? "NaN" : isinf(v) ? (v > 0 ? "Infinity" : "-Infinity")
                                                   : signbit(v) ? "-0.0" : "0.0");
        return;
    }
    /* The fewest significant digits that read back as v (Java's choice too), as d.ddde[+-]x. */
    char sci[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(sci, sizeof sci, "%.*e", digits - 1, (double)v);
        if (strtof(sci, NULL) == v) break;
    }
    char mant[16];
    int m = 0, exp10 = 0;
    const char *c = sci + (sci[0] == '-');
    for (; *c != 'e'; c++)
        if (*c != '.') mant[m++] = *c;
    mant[m] = '\0';
    exp10 = atoi(c + 1);
    char out[48];
    int o = 0;
    if (v < 0) out[o++] = '-';
    float a = fabsf(v);
    if (a >= 1e-3f && a < 1e7f) { /* plain decimal, at least one digit after the point */
        if (exp10 < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int k = -1; k > exp10; k--) out[o++] = '0';
            for (int k = 0; k < m; k++) out[o++] = mant[k];
        } else {
            for (int k = 0; k <= exp10; k++) out[o++] = k < m ? mant[k] : '0';
            out[o++] = '.';
            if (m > exp10 + 1) for (int k = exp10 + 1; k < m; k++) out[o++] = mant[k];
            else out[o++] = '0';
        }
        out[o] = '\0';
    } else { /* computerized scientific notation: 1.0E-4 */
        out[o++] = mant[0];
        out[o++] = '.';
        if (m > 1) for (int k = 1; k < m; k++) out[o++] = mant[k];
        else out[o++] = '0';
        snprintf(out + o, sizeof out - (size_t)o, "E%d", exp10);
    }
    snprintf(buf, (size_t)cap, "%s", out);
}

int32_t jnce_version(int32_t *version) {
    if (version == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "version: null pointer");
    *version = JNCE_VERSION_NUMBER;
    return JNCE_OK;
}

static int32_t copy_string(const char *text, char *buf, int64_t cap) {
    if (buf == NULL || cap <= 0) return jnce_fail(JNCE_ERR_INVALID_ARG, "buf: null or cap <= 0");
    size_t n = strlen(text);
    if ((int64_t)n >= cap) n = (size_t)cap - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
    return JNCE_OK;
}

int32_t jnce_last_error(char *buf, int64_t cap) {
    return copy_string(last_error, buf, cap);
}

int jnce_use_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        const char *simd = getenv("JNCE_SIMD");
        int forced_scalar = simd != NULL && strcmp(simd, "scalar") == 0;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        cached = !forced_scalar && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
        cached = !forced_scalar; /* the same paths through SIMDe (x86_simd.h) */
#endif
    }
    return cached;
}

int jnce_use_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
#if defined(__x86_64__)
        const char *simd = getenv("JNCE_SIMD");
        __builtin_cpu_init();
        cached = jnce_use_avx2() && __builtin_cpu_supports("avx512f") && !(simd != NULL && strcmp(simd, "avx2") == 0);
#else
        cached = 0;
#endif
    }
    return cached;
}

int jnce_env_switch(const char *name, int *cache) {
    int f = __atomic_load_n(cache, __ATOMIC_RELAXED);
    if (f == -2) {
        const char *env = getenv(name);
        f = env == NULL || *env == '\0' ? -1 : strcmp(env, "1") == 0;
        __atomic_store_n(cache, f, __ATOMIC_RELAXED);
    }
    return f;
}

int32_t jnce_build_info(char *buf, int64_t cap) {
    char text[512];
    snprintf(text, sizeof text, "jnce %d.%d.%d; kernels: %s; threads: %d; OpenBLAS: %s",
             JNCE_VERSION_NUMBER / 10000, JNCE_VERSION_NUMBER / 100 % 100, JNCE_VERSION_NUMBER % 100,
             jnce_use_avx2() ? JNCE_SIMD_NAME : "scalar", jnce_threads(), openblas_get_config());
    return copy_string(text, buf, cap);
}

/* The CPUs this process may run on (its affinity mask), else all online ones. sysconf reads
 * /sys on every call: ask once. */
int32_t jnce_usable_cpus(void) {
    static int32_t cached;
    int32_t n = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (n == 0) {
        cpu_set_t mask;
        long c = sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : sysconf(_SC_NPROCESSORS_ONLN);
        n = c < 1 ? 1 : c > INT32_MAX ? INT32_MAX : (int32_t)c;
        __atomic_store_n(&cached, n, __ATOMIC_RELAXED);
    }
    return n;
}

int32_t jnce_threads(void) {
    int32_t t = __atomic_load_n(&thread_count, __ATOMIC_RELAXED);
    if (t < 1) t = jnce_usable_cpus();
    return t < JNCE_MAX_THREADS ? t : JNCE_MAX_THREADS;
}

/* jnce's kernels get at most JNCE_MAX_THREADS, OpenBLAS at most the usable CPUs: more threads
 * than cores only add waiting (and crashed OpenBLAS 0.3.28's GEMM copy routines). */
static int32_t blas_threads_wanted; /* 0 until jnce_set_num_threads: OpenBLAS's own default */

int32_t jnce_set_num_threads(int32_t threads) {
    const int32_t cpus = jnce_usable_cpus();
    int32_t t = threads < 1 ? cpus : threads;
    if (t > JNCE_MAX_THREADS) t = JNCE_MAX_THREADS;
    __atomic_store_n(&thread_count, t, __ATOMIC_RELAXED);
    __atomic_store_n(&blas_threads_wanted, t < cpus ? t : cpus, __ATOMIC_RELAXED);
    openblas_set_num_threads(t < cpus ? t : cpus);
    return JNCE_OK;
}

extern int openblas_get_num_threads(void);

void jnce_blas_single_threaded(int single) {
    if (single) {
        openblas_set_num_threads(1);
        return;
    }
    int32_t wanted = __atomic_load_n(&blas_threads_wanted, __ATOMIC_RELAXED);
    openblas_set_num_threads(wanted > 0 ? wanted : jnce_usable_cpus());
}

int32_t jnce_get_num_threads(int32_t *threads) {
    if (threads == NULL) return jnce_fail(JNCE_ERR_INVALID_ARG, "threads: null pointer");
    *threads = jnce_threads();
    return JNCE_OK;
}
