{
  "targets": [
    {
      "target_name": "quant_kernels",
      "sources": [
        "csrc/types.c", "csrc/dot-half.c", "csrc/dequant.c", "csrc/quantize.c", "csrc/vec-dot-scalar.c",
        "csrc/arch/x86/vec-dot-avx2.c", "csrc/arch/arm/vec-dot-neon.c", "csrc/arch/wasm/vec-dot-simd128.c", "csrc/cpu-features.c",
        "csrc/threadpool.c", "csrc/ctx.c", "csrc/matmul.c", "csrc/ops.c", "csrc/rope.c",
        "csrc/attention.c", "csrc/kv-shift.c", "csrc/mmap.c", "csrc/op-table.c", "csrc/napi-binding.c",
        "csrc/plan.c", "csrc/repack.c", "csrc/norm-act.c", "csrc/arch/x86/avx2.c", "csrc/arch/x86/avx512.c",
        "csrc/mem-advise.c"
      ],
      "cflags": ["-O3", "-std=c11", "-ffp-contract=off", "-fno-strict-aliasing", "-D_GNU_SOURCE"],
      "cflags!": ["-O2", "-O0"],
      "xcode_settings": {
        "GCC_OPTIMIZATION_LEVEL": "3",
        "OTHER_CFLAGS": ["-std=c11", "-ffp-contract=off"]
      },
      "msvs_settings": { "VCCLCompilerTool": { "Optimization": 2 } },
      "conditions": [
        ["OS=='linux'", { "libraries": ["-lpthread", "-lm"] }],
        ["'<!(echo $QUANT_KERNELS_ASAN)'=='1'", {
          "cflags": ["-fsanitize=address", "-fno-omit-frame-pointer", "-g"],
          "ldflags": ["-fsanitize=address"]
        }]
      ]
    }
  ]
}
