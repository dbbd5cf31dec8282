/* blake3_avx512.c: the BLAKE3 back end hashing 16 inputs at once with AVX-512F. */
#include "blake3_impl.h"

#ifdef B3_HAVE_AVX512
#include <immintrin.h>

#define B3S_FN BD_SIMD_INLINE BD_SIMD_TARGET_AVX512
#define B3S_API BD_SIMD_TARGET_AVX512
#define B3S_VEC __m512i
#define B3S_DEGREE 16
#define B3S_ADD(a, b) _mm512_add_epi32((a), (b))
#define B3S_XOR(a, b) _mm512_xor_si512((a), (b))
#define B3S_SET1(x) _mm512_set1_epi32((int)(x))
#define B3S_ROT16(x) _mm512_ror_epi32((x), 16)
#define B3S_ROT12(x) _mm512_ror_epi32((x), 12)
#define B3S_ROT8(x) _mm512_ror_epi32((x), 8)
#define B3S_ROT7(x) _mm512_ror_epi32((x), 7)
#define B3S_LOADU(p) _mm512_loadu_si512((const void *)(p))
#define B3S_STOREU(p, v) _mm512_storeu_si512((void *)(p), (v))
#define B3S_HASH_MANY bd_b3_hash_many_avx512
#define B3S_HASH_CHUNKS bd_b3_hash_chunks_avx512
#define B3S_NEXT bd_b3_hash_many_portable /* a single input left */
/* 2..15 inputs left: one padded 16-lane pass costs less than the narrower back ends (here
 * 16 AVX-512 lanes take the time of ~5 AVX2 lanes or ~2.5 SSE4.1 / portable ones) */
#define B3S_PAD_MIN 2


/* m[w] = word w of the block at off of inputs 0..15: one 16x16 word transpose. */
B3S_FN void b3s_transpose_msg(const uint8_t *const *in, size_t off, __m512i m[16])
{
    __m512i r[16], t[16], u[16];
    B3_UNROLL
    for (size_t i = 0; i < 16; i++) {
        B3S_PREFETCH(in[i] + off);
        r[i] = B3S_LOADU(in[i] + off);
    }
    /* within each 128-bit lane k: words 4k..4k+3 */
    B3_UNROLL
    for (size_t i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* u[4g + c], lane k: word 4k + c of rows 4g..4g+3 */
    B3_UNROLL
    for (size_t g = 0; g < 16; g += 4) {
        u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    /* word 4k + c = lane k of u[c], u[4 + c], u[8 + c], u[12 + c]: a 4x4 lane transpose */
    B3_UNROLL
    for (size_t c = 0; c < 4; c++) {
        __m512i ab_lo = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x44);
        __m512i ab_hi = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xEE);
        __m512i cd_lo = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x44);
        __m512i cd_hi = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xEE);
        m[c] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0x88);
        m[4 + c] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0xDD);
        m[8 + c] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0x88);
        m[12 + c] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0xDD);
    }
}

#include "blake3_simd.h"

#else
typedef int bd_b3_avx512_unavailable; /* ISO C wants a translation unit to declare something */
#endif
