/* bd_simd.h: x86-64 SIMD for the hash back ends: which instruction sets this compiler can
 * target, the function attributes that target them, a loop-unrolling hint, and whether
 * this CPU (and OS) has them.
 *
 * The only place in native/ that names a compiler's SIMD extensions or CPU-detection
 * builtins: GCC and Clang (function target attributes, __builtin_cpu_supports), MSVC (no
 * attributes needed; __cpuidex and _xgetbv, which clang-cl also takes).  Off x86-64, or
 * with another compiler, no SIMD back end is compiled and the portable one is used. */
#ifndef BODEGA_BD_SIMD_H
#define BODEGA_BD_SIMD_H

typedef enum bd_simd_isa {
    BD_SIMD_SSE41 = 0,
    BD_SIMD_AVX2 = 1,
    BD_SIMD_AVX512 = 2   /* AVX-512 F and VL */
} bd_simd_isa;

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__) || defined(_MSC_VER))

#define BD_SIMD_SSE41_BUILD 1
/* mingw-w64 GCC misaligns 32- and 64-byte stack spills (GCC bug 54412): its Windows builds
 * keep to SSE4.1. */
#if !(defined(_WIN32) && defined(__GNUC__) && !defined(__clang__))
#define BD_SIMD_AVX2_BUILD 1
#define BD_SIMD_AVX512_BUILD 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define BD_SIMD_TARGET_SSE41 __attribute__((target("sse4.1")))
#define BD_SIMD_TARGET_AVX2 __attribute__((target("avx2")))
#define BD_SIMD_TARGET_AVX512 __attribute__((target("avx512f,avx512vl")))
#define BD_SIMD_INLINE static inline __attribute__((always_inline))
#else  /* MSVC compiles any intrinsic without a per-function target */
#define BD_SIMD_TARGET_SSE41
#define BD_SIMD_TARGET_AVX2
#define BD_SIMD_TARGET_AVX512
#define BD_SIMD_INLINE static __forceinline
#endif

#if defined(_MSC_VER)
#include <intrin.h>

/* CPUID says what the CPU has; XGETBV says whether the OS saves the wider registers. */
static inline int bd_simd_cpu_has(bd_simd_isa isa)
{
    int r[4];
    __cpuidex(r, 1, 0);
    int sse41 = (r[2] >> 19) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    if (isa == BD_SIMD_SSE41)
        return sse41;
    if (!osxsave || !avx)
        return 0;
    unsigned long long xcr0 = _xgetbv(0);
    __cpuidex(r, 7, 0);
    if (isa == BD_SIMD_AVX2)
        return (xcr0 & 0x6) == 0x6 && ((r[1] >> 5) & 1);
    return (xcr0 & 0xE6) == 0xE6 && ((r[1] >> 16) & 1) && ((r[1] >> 31) & 1);
}
#else
static inline int bd_simd_cpu_has(bd_simd_isa isa)
{
    __builtin_cpu_init();
    switch (isa) {
    case BD_SIMD_SSE41: return __builtin_cpu_supports("sse4.1") != 0;
    case BD_SIMD_AVX2: return __builtin_cpu_supports("avx2") != 0;
    case BD_SIMD_AVX512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    }
    return 0;
}
#endif

#endif

/* Fully unrolls the loop that follows (constant count), so SIMD values stay in registers. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)
#define BD_UNROLL_16 _Pragma("GCC unroll 16")
#else
#define BD_UNROLL_16
#endif

#endif
