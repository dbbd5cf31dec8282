/* blake3_sse41.c: the BLAKE3 back end hashing 4 inputs at once with SSE4.1. */
#include "blake3_impl.h"

#ifdef B3_HAVE_SSE41
#include <immintrin.h>

#define B3S_FN BD_SIMD_INLINE BD_SIMD_TARGET_SSE41
#define B3S_API BD_SIMD_TARGET_SSE41
#define B3S_VEC __m128i
#define B3S_DEGREE 4
#define B3S_ADD(a, b) _mm_add_epi32((a), (b))
#define B3S_XOR(a, b) _mm_xor_si128((a), (b))
#define B3S_SET1(x) _mm_set1_epi32((int)(x))
#define B3S_SHIFT_ROT(x, c) _mm_or_si128(_mm_srli_epi32((x), (c)), _mm_slli_epi32((x), 32 - (c)))
/* rotations by whole bytes are byte shuffles */
#define B3S_ROT16(x) _mm_shuffle_epi8((x), _mm_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2))
#define B3S_ROT12(x) B3S_SHIFT_ROT((x), 12)
#define B3S_ROT8(x) _mm_shuffle_epi8((x), _mm_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1))
#define B3S_ROT7(x) B3S_SHIFT_ROT((x), 7)
#define B3S_LOADU(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define B3S_STOREU(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))
#define B3S_HASH_MANY bd_b3_hash_many_sse41
#define B3S_HASH_CHUNKS bd_b3_hash_chunks_sse41
#define B3S_NEXT bd_b3_hash_many_portable
#define B3S_PAD_MIN 0 /* a remainder goes one by one: padding to 4 lanes does not pay */


/* m[w] = word w of the block at off of inputs 0..3: four 4x4 word transposes. */
B3S_FN void b3s_transpose_msg(const uint8_t *const *in, size_t off, __m128i m[16])
{
    B3_UNROLL
    for (size_t i = 0; i < 4; i++)
        B3S_PREFETCH(in[i] + off);
    B3_UNROLL
    for (size_t q = 0; q < 4; q++) {
        __m128i a = B3S_LOADU(in[0] + off + 16 * q);
        __m128i b = B3S_LOADU(in[1] + off + 16 * q);
        __m128i c = B3S_LOADU(in[2] + off + 16 * q);
        __m128i d = B3S_LOADU(in[3] + off + 16 * q);
        __m128i ab01 = _mm_unpacklo_epi32(a, b), ab23 = _mm_unpackhi_epi32(a, b);
        __m128i cd01 = _mm_unpacklo_epi32(c, d), cd23 = _mm_unpackhi_epi32(c, d);
        m[4 * q + 0] = _mm_unpacklo_epi64(ab01, cd01);
        m[4 * q + 1] = _mm_unpackhi_epi64(ab01, cd01);
        m[4 * q + 2] = _mm_unpacklo_epi64(ab23, cd23);
        m[4 * q + 3] = _mm_unpackhi_epi64(ab23, cd23);
    }
}

#include "blake3_simd.h"

#else
typedef int bd_b3_sse41_unavailable; /* ISO C wants a translation unit to declare something */
#endif
