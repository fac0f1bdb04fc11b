# JnceSanitize.cmake - JNCE_SANITIZE=ON builds libjnce.so and the C tests with AddressSanitizer
# and UndefinedBehaviorSanitizer: an out-of-bounds access, a use after free, a leak or any
# undefined behaviour fails the test that meets it. For checking only: the JVM cannot load such
# a libjnce.so without preloading libasan, so the Maven build configures it in a folder of its
# own and never packages it. OpenBLAS is not instrumented (its own accesses go unchecked) and
# libjnce_cuda.so is not built.
#
#   cmake -S native -B build-asan -DJNCE_SANITIZE=ON -DOPENBLAS_ROOT=...
#   cmake --build build-asan && ctest --test-dir build-asan --output-on-failure
option(JNCE_SANITIZE "Build libjnce.so and the C tests with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

# Appended to every test's ENVIRONMENT (the sanitizers read it at start); empty when not sanitizing.
set(JNCE_SANITIZE_ENVIRONMENT "")
if(JNCE_SANITIZE)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "JNCE_SANITIZE=ON needs GCC or Clang, not ${CMAKE_C_COMPILER_ID}")
  endif()
  # -g for file:line in reports; no recovery, so that undefined behaviour fails the test.
  # max_malloc_fill_size: every malloc'd byte starts as 0xbe (AddressSanitizer fills only the first
  # 4 KiB by default), so a kernel that reads a buffer it never wrote gets garbage, not the zeros
  # of fresh pages, and its test fails
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
  set(JNCE_SANITIZE_ENVIRONMENT
    ";ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:max_malloc_fill_size=2147483647;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  message(STATUS "jnce: AddressSanitizer and UndefinedBehaviorSanitizer on (tests only: do not package this libjnce.so)")
endif()
