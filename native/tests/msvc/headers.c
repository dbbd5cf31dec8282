/* headers.c: compiled (not run) in MSVC mode by `make check-msvc-headers`, with clang
 * targeting the MSVC ABI, so the MSVC branches of the headers that wrap compiler
 * extensions (bd_thread.h atomics, bd_simd.h CPU detection) are at least compiled here,
 * where no MSVC runs.  Freestanding: only those headers, no C library. */
#include "bodega/bd_thread.h"
#include "bodega/bd_simd.h"

int bd_msvc_headers_probe(volatile int *i, volatile unsigned *u, volatile uint64_t *q);

int bd_msvc_headers_probe(volatile int *i, volatile unsigned *u, volatile uint64_t *q)
{
    int r = 0;
    bd_atomic_store_int(i, 1);
    r += bd_atomic_fetch_or_int(i, 2);
    r += (int)bd_atomic_inc_uint(u);
    r += (int)bd_atomic_fetch_add_u64(q, 3);
    r += (int)bd_atomic_exchange_u64(q, 4);
    r += bd_atomic_load_int(i) + (int)bd_atomic_load_u64(q);
#ifdef BD_SIMD_SSE41_BUILD
    r += bd_simd_cpu_has(BD_SIMD_SSE41) + bd_simd_cpu_has(BD_SIMD_AVX2) + bd_simd_cpu_has(BD_SIMD_AVX512);
#endif
    return r;
}
