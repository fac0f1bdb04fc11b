/*
 * glibc_floor.h: binds the libc symbols whose newest versions a build machine's glibc would pick
 * to their oldest versions (GLIBC_2.2.5 on x86-64, GLIBC_2.17 on aarch64), so that libjnce.so runs
 * on glibc 2.17 like the JDK itself. Force-included into every translation unit on Linux
 * (native/CMakeLists.txt);
 * cmake/check-glibc-floor.sh fails the build when a symbol newer than the floor appears, naming it:
 * add it here.
 *
 * Why each is safe at its old version:
 *   pthread_create, pthread_mutex_trylock: glibc 2.34 moved them from libpthread into libc and gave
 *     them a new version; the calls are the same (libjnce.so also lists libpthread.so.0 as needed,
 *     where older glibc keeps them).
 *   exp, log, pow (2.29), expf (2.27): new versions only drop the SVID error-handling wrapper;
 *     jnce is compiled with -fno-math-errno and reads no errno.
 */
#ifndef JNCE_GLIBC_FLOOR_H
#define JNCE_GLIBC_FLOOR_H
/* No header here (a forced include would fix the feature macros before the file sets its own):
 * __GLIBC__ is not yet known; jnce's Linux builds are against glibc. */
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#if defined(__x86_64__)
#define JNCE_GLIBC_OLDEST "GLIBC_2.2.5"
#else
#define JNCE_GLIBC_OLDEST "GLIBC_2.17" /* the first glibc on aarch64 */
#endif
__asm__(".symver pthread_create,pthread_create@" JNCE_GLIBC_OLDEST);
__asm__(".symver pthread_mutex_trylock,pthread_mutex_trylock@" JNCE_GLIBC_OLDEST);
__asm__(".symver exp,exp@" JNCE_GLIBC_OLDEST);
__asm__(".symver log,log@" JNCE_GLIBC_OLDEST);
__asm__(".symver pow,pow@" JNCE_GLIBC_OLDEST);
__asm__(".symver expf,expf@" JNCE_GLIBC_OLDEST);
#endif
#endif
