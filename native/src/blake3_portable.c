/* blake3_portable.c: the BLAKE3 compression function in plain C99, the oracle for the
 * SIMD back ends. */
#include "blake3_impl.h"

static inline uint32_t rotr32(uint32_t w, unsigned c)
{
    return (w >> c) | (w << (32 - c));
}

static inline void g(uint32_t *v, int a, int b, int c, int d, uint32_t x, uint32_t y)
{
    v[a] = v[a] + v[b] + x;
    v[d] = rotr32(v[d] ^ v[a], 16);
    v[c] = v[c] + v[d];
    v[b] = rotr32(v[b] ^ v[c], 12);
    v[a] = v[a] + v[b] + y;
    v[d] = rotr32(v[d] ^ v[a], 8);
    v[c] = v[c] + v[d];
    v[b] = rotr32(v[b] ^ v[c], 7);
}

static inline void round_fn(uint32_t v[16], const uint32_t m[16], size_t r)
{
    const uint8_t *s = bd_b3_schedule[r];
    /* columns, then diagonals */
    g(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
    g(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
    g(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
    g(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
    g(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
    g(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
    g(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
    g(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
}

static void compress_state(uint32_t v[16], const uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN],
                           uint8_t block_len, uint64_t counter, uint8_t flags)
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = b3_load32(block + 4 * i);
    for (int i = 0; i < 8; i++)
        v[i] = cv[i];
    for (int i = 0; i < 4; i++)
        v[8 + i] = bd_b3_iv[i];
    v[12] = (uint32_t)counter;
    v[13] = (uint32_t)(counter >> 32);
    v[14] = block_len;
    v[15] = flags;
    /* spelled out so the schedule folds into constant indices */
    round_fn(v, m, 0);
    round_fn(v, m, 1);
    round_fn(v, m, 2);
    round_fn(v, m, 3);
    round_fn(v, m, 4);
    round_fn(v, m, 5);
    round_fn(v, m, 6);
}

void bd_b3_compress_portable(uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN], uint8_t block_len,
                             uint64_t counter, uint8_t flags)
{
    uint32_t v[16];
    compress_state(v, cv, block, block_len, counter, flags);
    for (int i = 0; i < 8; i++)
        cv[i] = v[i] ^ v[i + 8];
}

void bd_b3_compress_xof(const uint32_t cv[8], const uint8_t block[B3_BLOCK_LEN], uint8_t block_len,
                        uint64_t counter, uint8_t flags, uint8_t out[64])
{
    uint32_t v[16];
    compress_state(v, cv, block, block_len, counter, flags);
    for (int i = 0; i < 8; i++) {
        b3_store32(out + 4 * i, v[i] ^ v[i + 8]);
        b3_store32(out + 32 + 4 * i, v[i + 8] ^ cv[i]);
    }
}

void bd_b3_hash_many_portable(const uint8_t *const *inputs, size_t n, size_t blocks,
                              const uint32_t key[8], uint64_t counter, int increment_counter,
                              uint8_t flags, uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t cv[8];
        memcpy(cv, key, sizeof cv);
        uint8_t block_flags = (uint8_t)(flags | flags_start);
        for (size_t b = 0; b < blocks; b++) {
            if (b + 1 == blocks)
                block_flags |= flags_end;
            bd_b3_compress_portable(cv, inputs[i] + b * B3_BLOCK_LEN, B3_BLOCK_LEN, counter, block_flags);
            block_flags = flags;
        }
        b3_store_cv(out + i * B3_OUT_LEN, cv);
        if (increment_counter)
            counter++;
    }
}

void bd_b3_hash_chunks_portable(const b3_chunk_job *jobs, size_t n, const uint32_t key[8], uint8_t flags,
                                uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        const b3_chunk_job *job = &jobs[i];
        size_t blocks = b3_job_blocks(job);
        uint32_t cv[8];
        memcpy(cv, key, sizeof cv);
        for (size_t b = 0; b < blocks; b++) {
            uint8_t block[B3_BLOCK_LEN] = {0};
            size_t len = b + 1 < blocks ? B3_BLOCK_LEN : job->len - b * B3_BLOCK_LEN;
            uint8_t block_flags = (uint8_t)(flags | (b == 0 ? B3_CHUNK_START : 0)
                                            | (b + 1 == blocks ? B3_CHUNK_END | job->end_flags : 0));
            if (len)
                memcpy(block, job->data + b * B3_BLOCK_LEN, len);
            bd_b3_compress_portable(cv, block, (uint8_t)len, job->counter, block_flags);
        }
        b3_store_cv(out + i * B3_OUT_LEN, cv);
    }
}
