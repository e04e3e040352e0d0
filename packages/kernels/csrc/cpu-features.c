/* Runtime CPU feature detection. */
#include "qk.h"

int qk_cpu_has_avx2(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
  return 0;
#endif
}

/* 1 if the CPU has the AVX-512 subset (F, CD, VL, DQ, BW) of llama.cpp's x86 builds for Skylake-X
 * and later, where ggml_cpu_has_avx512() is true and Q2_K weights are repacked. */
int qk_cpu_has_avx512(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return qk_cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
#else
  return 0;
#endif
}
