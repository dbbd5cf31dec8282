/* blake3_avx2.c: the BLAKE3 back end hashing 8 inputs at once with AVX2. */
#include "blake3_impl.h"

#ifdef B3_HAVE_AVX2
#include <immintrin.h>

#define B3S_FN BD_SIMD_INLINE BD_SIMD_TARGET_AVX2
#define B3S_API BD_SIMD_TARGET_AVX2
#define B3S_VEC __m256i
#define B3S_DEGREE 8
#define B3S_ADD(a, b) _mm256_add_epi32((a), (b))
#define B3S_XOR(a, b) _mm256_xor_si256((a), (b))
#define B3S_SET1(x) _mm256_set1_epi32((int)(x))
#define B3S_SHIFT_ROT(x, c) _mm256_or_si256(_mm256_srli_epi32((x), (c)), _mm256_slli_epi32((x), 32 - (c)))
/* rotations by whole bytes are byte shuffles */
#define B3S_ROT16(x)                                                                           \
    _mm256_shuffle_epi8((x), _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2, \
                                             13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2))
#define B3S_ROT12(x) B3S_SHIFT_ROT((x), 12)
#define B3S_ROT8(x)                                                                            \
    _mm256_shuffle_epi8((x), _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1, \
                                             12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1))
#define B3S_ROT7(x) B3S_SHIFT_ROT((x), 7)
#define B3S_LOADU(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define B3S_STOREU(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))
#define B3S_HASH_MANY bd_b3_hash_many_avx2
#define B3S_HASH_CHUNKS bd_b3_hash_chunks_avx2
#define B3S_NEXT bd_b3_hash_many_sse41
#define B3S_PAD_MIN 0 /* fewer than 8 left: the SSE4.1 back end takes them at no loss */

/* m[w] = word w of the block at off of inputs 0..7: two 8x8 word transposes. */
B3S_FN void b3s_transpose_msg(const uint8_t *const *in, size_t off, __m256i m[16])
{
    B3_UNROLL
    for (size_t i = 0; i < 8; i++)
        B3S_PREFETCH(in[i] + off);
    B3_UNROLL
    for (size_t half = 0; half < 2; half++) {
        __m256i r[8], t[8], u[8];
        B3_UNROLL
        for (size_t i = 0; i < 8; i++)
            r[i] = B3S_LOADU(in[i] + off + 32 * half);
        B3_UNROLL
        for (size_t i = 0; i < 8; i += 2) {
            t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);      /* words 0 1 | 4 5 of rows i, i+1 */
            t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);  /* words 2 3 | 6 7 */
        }
        B3_UNROLL
        for (size_t i = 0; i < 8; i += 4) {
            u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);          /* word 0 | 4 of rows i..i+3 */
            u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);      /* word 1 | 5 */
            u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);  /* word 2 | 6 */
            u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);  /* word 3 | 7 */
        }
        B3_UNROLL
        for (size_t w = 0; w < 4; w++) {
            m[8 * half + w] = _mm256_permute2x128_si256(u[w], u[4 + w], 0x20);
            m[8 * half + w + 4] = _mm256_permute2x128_si256(u[w], u[4 + w], 0x31);
        }
    }
}

#include "blake3_simd.h"

#else
typedef int bd_b3_avx2_unavailable; /* ISO C wants a translation unit to declare something */
#endif
