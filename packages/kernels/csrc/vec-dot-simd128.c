/* WebAssembly SIMD128 dot products (compile-time: the wasm module is built with -msimd128). */
#include "qk.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

int qk_vtable_simd128(qk_vtable *t) {
  (void)t;
  return 0;
}
#else
int qk_vtable_simd128(qk_vtable *t) { (void)t; return 0; }
#endif
