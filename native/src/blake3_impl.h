/* blake3_impl.h: what the BLAKE3 back ends share (internal to native/src).
 *
 * A back end provides the compression function for one block and hash_many, which
 * compresses many inputs of the same number of blocks at once (the chunks of a subtree, or
 * the parent nodes of one tree level).  blake3.c builds the tree on top of them.
 */
#ifndef BODEGA_BLAKE3_IMPL_H
#define BODEGA_BLAKE3_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bodega/bd_hash.h"
#include "bodega/bd_simd.h"

#define B3_BLOCK_LEN BD_BLAKE3_BLOCK_LEN
#define B3_CHUNK_LEN BD_BLAKE3_CHUNK_LEN
#define B3_OUT_LEN 32
#define B3_MAX_DEGREE 16   /* the widest back end (AVX-512) hashes 16 inputs at once */

#define B3_UNROLL BD_UNROLL_16

/* Domain flags (BLAKE3 spec, table 3). */
enum {
    B3_CHUNK_START = 1 << 0,
    B3_CHUNK_END = 1 << 1,
    B3_PARENT = 1 << 2,
    B3_ROOT = 1 << 3,
    B3_KEYED_HASH = 1 << 4,
    B3_DERIVE_KEY_CONTEXT = 1 << 5,
    B3_DERIVE_KEY_MATERIAL = 1 << 6
};

/* The IV (SHA-256's) and the message word order of each of the 7 rounds: each row is the
 * previous one permuted by (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8).  Static
 * in every file so the compilers fold them into the unrolled rounds. */
static const uint32_t bd_b3_iv[8] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

static const uint8_t bd_b3_schedule[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

/* Compresses one block into cv (in place: cv becomes the next chaining value). */
typedef void (*b3_compress_fn)(uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN], uint8_t block_len,
                               uint64_t counter, uint8_t flags);

/* Hashes n inputs of `blocks` full blocks each, writing 32 bytes per input to out.  Input i
 * uses counter + i when increment_counter, else counter; flags_start is added to the first
 * block's flags and flags_end to the last one's (CHUNK_START / CHUNK_END for chunks, 0 for
 * parents). */
typedef void (*b3_hash_many_fn)(const uint8_t *const *inputs, size_t n, size_t blocks,
                                const uint32_t key[8], uint64_t counter, int increment_counter,
                                uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);

/* One chunk (at most 1024 bytes, the last block zero-padded) of some message, for
 * hash_chunks: the chunks of many small messages fill the SIMD lanes together. */
typedef struct b3_chunk_job {
    const uint8_t *data;
    size_t len;
    uint64_t counter;   /* the chunk's index in its message */
    uint8_t end_flags;  /* added to CHUNK_END on the last block: ROOT for a one-chunk message */
} b3_chunk_job;

/* Hashes n chunk jobs, writing 32 bytes per job to out (its chaining value, or for a ROOT job
 * the message's hash). */
typedef void (*b3_hash_chunks_fn)(const b3_chunk_job *jobs, size_t n, const uint32_t key[8], uint8_t flags,
                                  uint8_t *out);

/* The single-block compression is always the portable one: one block depends on the last,
 * so SIMD rows gain nothing there (measured: a row-wise SSE4.1 / AVX-512VL compression was
 * no faster than the scalar code on this CPU).  SIMD pays only across many inputs. */
typedef struct b3_backend {
    unsigned degree;              /* inputs hashed in parallel by hash_many */
    b3_hash_many_fn hash_many;
    b3_hash_chunks_fn hash_chunks;
} b3_backend;

/* The back end chosen for this process. */
const b3_backend *bd_b3_backend(void);

/* Portable back end (the oracle) and the full 64-byte output of one compression (XOF). */
void bd_b3_compress_portable(uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN], uint8_t block_len,
                             uint64_t counter, uint8_t flags);
void bd_b3_compress_xof(const uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN], uint8_t block_len,
                        uint64_t counter, uint8_t flags, uint8_t out[64]);
void bd_b3_hash_many_portable(const uint8_t *const *inputs, size_t n, size_t blocks,
                              const uint32_t key[8], uint64_t counter, int increment_counter,
                              uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);
void bd_b3_hash_chunks_portable(const b3_chunk_job *jobs, size_t n, const uint32_t key[8], uint8_t flags,
                                uint8_t *out);

/* The number of blocks of a chunk job (an empty chunk still has one) and the bytes of its
 * last block. */
static inline size_t b3_job_blocks(const b3_chunk_job *job)
{
    return job->len ? (job->len + B3_BLOCK_LEN - 1) / B3_BLOCK_LEN : 1;
}


/* The SIMD back ends this compiler can build (bd_simd.h decides, per compiler). */
#ifdef BD_SIMD_SSE41_BUILD
#define B3_HAVE_SSE41 1
#endif
#ifdef BD_SIMD_AVX2_BUILD
#define B3_HAVE_AVX2 1
#endif
#ifdef BD_SIMD_AVX512_BUILD
#define B3_HAVE_AVX512 1
#endif

#ifdef B3_HAVE_SSE41
/* What the SIMD back ends read a few blocks ahead of the one they compress. */
#define B3S_PREFETCH(p) _mm_prefetch((const char *)(p) + 4 * B3_BLOCK_LEN, _MM_HINT_T0)
void bd_b3_hash_chunks_sse41(const b3_chunk_job *jobs, size_t n, const uint32_t key[8], uint8_t flags,
                             uint8_t *out);
void bd_b3_hash_many_sse41(const uint8_t *const *inputs, size_t n, size_t blocks,
                           const uint32_t key[8], uint64_t counter, int increment_counter,
                           uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);
#endif
#ifdef B3_HAVE_AVX2
void bd_b3_hash_chunks_avx2(const b3_chunk_job *jobs, size_t n, const uint32_t key[8], uint8_t flags,
                            uint8_t *out);
void bd_b3_hash_many_avx2(const uint8_t *const *inputs, size_t n, size_t blocks,
                          const uint32_t key[8], uint64_t counter, int increment_counter,
                          uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);
#endif
#ifdef B3_HAVE_AVX512
void bd_b3_hash_chunks_avx512(const b3_chunk_job *jobs, size_t n, const uint32_t key[8], uint8_t flags,
                              uint8_t *out);
void bd_b3_hash_many_avx512(const uint8_t *const *inputs, size_t n, size_t blocks,
                            const uint32_t key[8], uint64_t counter, int increment_counter,
                            uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out);
#endif

static inline uint32_t b3_load32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void b3_store32(uint8_t *p, uint32_t w)
{
    p[0] = (uint8_t)w;
    p[1] = (uint8_t)(w >> 8);
    p[2] = (uint8_t)(w >> 16);
    p[3] = (uint8_t)(w >> 24);
}

static inline void b3_store_cv(uint8_t out[B3_OUT_LEN], const uint32_t cv[8])
{
    for (int i = 0; i < 8; i++)
        b3_store32(out + 4 * i, cv[i]);
}

#endif
