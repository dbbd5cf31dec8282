/* blake3_simd.h: hash_many for one SIMD width, written once for every width.
 *
 * Lane i of each vector holds input i: the 16 state words and 16 message words of DEGREE
 * inputs are DEGREE-wide vectors, so one pass of the rounds compresses DEGREE blocks.
 * The including back end defines, before including this file:
 *   B3S_FN            attributes of an inlined helper (always_inline + target)
 *   B3S_API           attributes of the exported function (target)
 *   B3S_VEC, B3S_DEGREE
 *   B3S_ADD, B3S_XOR, B3S_SET1, B3S_ROT16, B3S_ROT12, B3S_ROT8, B3S_ROT7,
 *   B3S_LOADU (from a uint32_t array), B3S_STOREU (to a uint32_t array)
 *   b3s_transpose_msg(inputs, offset, m): m[w] = word w of the block at offset of each input;
 *                     it prefetches ahead with B3S_PREFETCH, since the streams of many inputs
 *                     at once are more than the hardware prefetcher follows
 *   B3S_HASH_MANY     the name of the exported hash_many
 *   B3S_HASH_CHUNKS   the name of the exported hash_chunks (its leftovers go one by one to
 *                     the portable one, or as one padded group from B3S_PAD_MIN)
 *   B3S_NEXT          the hash_many that takes the inputs left over (fewer than DEGREE)
 *   B3S_PAD_MIN       from this many inputs left over (0: never), they are hashed as one
 *                     group padded with copies of the first input instead
 */

/* The G function on whole vectors: DEGREE independent G's, one per lane. */
B3S_FN void b3s_g(B3S_VEC *a, B3S_VEC *b, B3S_VEC *c, B3S_VEC *d, B3S_VEC x, B3S_VEC y)
{
    *a = B3S_ADD(B3S_ADD(*a, x), *b);
    *d = B3S_ROT16(B3S_XOR(*d, *a));
    *c = B3S_ADD(*c, *d);
    *b = B3S_ROT12(B3S_XOR(*b, *c));
    *a = B3S_ADD(B3S_ADD(*a, y), *b);
    *d = B3S_ROT8(B3S_XOR(*d, *a));
    *c = B3S_ADD(*c, *d);
    *b = B3S_ROT7(B3S_XOR(*b, *c));
}

B3S_FN void b3s_round(B3S_VEC v[16], const B3S_VEC m[16], size_t r)
{
    const uint8_t *s = bd_b3_schedule[r];
    /* columns, then diagonals; the compiler interleaves the independent G's */
    b3s_g(&v[0], &v[4], &v[8], &v[12], m[s[0]], m[s[1]]);
    b3s_g(&v[1], &v[5], &v[9], &v[13], m[s[2]], m[s[3]]);
    b3s_g(&v[2], &v[6], &v[10], &v[14], m[s[4]], m[s[5]]);
    b3s_g(&v[3], &v[7], &v[11], &v[15], m[s[6]], m[s[7]]);
    b3s_g(&v[0], &v[5], &v[10], &v[15], m[s[8]], m[s[9]]);
    b3s_g(&v[1], &v[6], &v[11], &v[12], m[s[10]], m[s[11]]);
    b3s_g(&v[2], &v[7], &v[8], &v[13], m[s[12]], m[s[13]]);
    b3s_g(&v[3], &v[4], &v[9], &v[14], m[s[14]], m[s[15]]);
}

/* One block in every lane: h, the chaining values, become the next ones. */
B3S_FN void b3s_compress(B3S_VEC h[8], const B3S_VEC m[16], B3S_VEC counter_lo, B3S_VEC counter_hi,
                         B3S_VEC block_len, B3S_VEC flags)
{
    B3S_VEC v[16];
    B3_UNROLL
    for (size_t i = 0; i < 8; i++)
        v[i] = h[i];
    v[8] = B3S_SET1(bd_b3_iv[0]);
    v[9] = B3S_SET1(bd_b3_iv[1]);
    v[10] = B3S_SET1(bd_b3_iv[2]);
    v[11] = B3S_SET1(bd_b3_iv[3]);
    v[12] = counter_lo;
    v[13] = counter_hi;
    v[14] = block_len;
    v[15] = flags;
    b3s_round(v, m, 0);
    b3s_round(v, m, 1);
    b3s_round(v, m, 2);
    b3s_round(v, m, 3);
    b3s_round(v, m, 4);
    b3s_round(v, m, 5);
    b3s_round(v, m, 6);
    B3_UNROLL
    for (size_t i = 0; i < 8; i++)
        h[i] = B3S_XOR(v[i], v[i + 8]);
}

/* Hashes exactly B3S_DEGREE inputs. */
B3S_FN void b3s_hash_group(const uint8_t *const *inputs, size_t blocks, const uint32_t key[8],
                           uint64_t counter, int increment_counter, uint8_t flags,
                           uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
    B3S_VEC h[8], m[16];
    uint32_t lo[B3S_DEGREE], hi[B3S_DEGREE];
    B3_UNROLL
    for (size_t i = 0; i < B3S_DEGREE; i++) {
        uint64_t c = counter + (increment_counter ? i : 0);
        lo[i] = (uint32_t)c;
        hi[i] = (uint32_t)(c >> 32);
    }
    B3S_VEC counter_lo = B3S_LOADU(lo), counter_hi = B3S_LOADU(hi);
    B3_UNROLL
    for (size_t i = 0; i < 8; i++)
        h[i] = B3S_SET1(key[i]);
    uint8_t block_flags = (uint8_t)(flags | flags_start);
    for (size_t b = 0; b < blocks; b++) {
        if (b + 1 == blocks)
            block_flags |= flags_end;
        b3s_transpose_msg(inputs, b * B3_BLOCK_LEN, m);
        b3s_compress(h, m, counter_lo, counter_hi, B3S_SET1(B3_BLOCK_LEN), B3S_SET1(block_flags));
        block_flags = flags;
    }
    /* back from word-major to input-major (x86 is little-endian, as the output is) */
    uint32_t words[8][B3S_DEGREE];
    B3_UNROLL
    for (size_t i = 0; i < 8; i++)
        B3S_STOREU(words[i], h[i]);
    B3_UNROLL
    for (size_t lane = 0; lane < B3S_DEGREE; lane++)
        B3_UNROLL
        for (size_t i = 0; i < 8; i++)
            memcpy(out + lane * B3_OUT_LEN + 4 * i, &words[i][lane], 4);
}

B3S_API void B3S_HASH_MANY(const uint8_t *const *inputs, size_t n, size_t blocks, const uint32_t key[8],
                           uint64_t counter, int increment_counter, uint8_t flags, uint8_t flags_start,
                           uint8_t flags_end, uint8_t *out)
{
    while (n >= B3S_DEGREE) {
        b3s_hash_group(inputs, blocks, key, counter, increment_counter, flags, flags_start, flags_end, out);
        if (increment_counter)
            counter += B3S_DEGREE;
        inputs += B3S_DEGREE;
        n -= B3S_DEGREE;
        out += B3S_DEGREE * B3_OUT_LEN;
    }
#if B3S_PAD_MIN
    if (n >= B3S_PAD_MIN) {
        const uint8_t *padded[B3S_DEGREE];
        uint8_t cvs[B3S_DEGREE * B3_OUT_LEN];
        B3_UNROLL
        for (size_t i = 0; i < B3S_DEGREE; i++)
            padded[i] = inputs[i < n ? i : 0];
        b3s_hash_group(padded, blocks, key, counter, increment_counter, flags, flags_start, flags_end, cvs);
        memcpy(out, cvs, n * B3_OUT_LEN);
        return;
    }
#endif
    B3S_NEXT(inputs, n, blocks, key, counter, increment_counter, flags, flags_start, flags_end, out);
}

/* Hashes exactly B3S_DEGREE chunk jobs of possibly different lengths: a lane whose chunk has
 * ended keeps computing on zeros and its result is taken at its last block. */
B3S_FN void b3s_chunks_group(const b3_chunk_job *jobs, const uint32_t key[8], uint8_t flags, uint8_t *out)
{
    static const uint8_t zeros[B3_BLOCK_LEN];
    B3S_VEC h[8], m[16];
    uint32_t lo[B3S_DEGREE], hi[B3S_DEGREE], lens[B3S_DEGREE], fl[B3S_DEGREE];
    uint8_t tails[B3S_DEGREE][B3_BLOCK_LEN]; /* zero-padded partial last blocks */
    const uint8_t *ptrs[B3S_DEGREE];
    size_t blocks[B3S_DEGREE], most = 0;
    for (size_t i = 0; i < B3S_DEGREE; i++) {
        blocks[i] = b3_job_blocks(&jobs[i]);
        most = blocks[i] > most ? blocks[i] : most;
        lo[i] = (uint32_t)jobs[i].counter;
        hi[i] = (uint32_t)(jobs[i].counter >> 32);
        size_t tail = jobs[i].len - (blocks[i] - 1) * B3_BLOCK_LEN;
        memset(tails[i], 0, B3_BLOCK_LEN);
        if (tail)
            memcpy(tails[i], jobs[i].data + (blocks[i] - 1) * B3_BLOCK_LEN, tail);
    }
    B3S_VEC counter_lo = B3S_LOADU(lo), counter_hi = B3S_LOADU(hi);
    for (size_t i = 0; i < 8; i++)
        h[i] = B3S_SET1(key[i]);
    for (size_t b = 0; b < most; b++) {
        int ending = 0;
        for (size_t i = 0; i < B3S_DEGREE; i++) {
            int last = b + 1 == blocks[i];
            ptrs[i] = b + 1 < blocks[i] ? jobs[i].data + b * B3_BLOCK_LEN : last ? tails[i] : zeros;
            lens[i] = last ? (uint32_t)(jobs[i].len - b * B3_BLOCK_LEN) : B3_BLOCK_LEN;
            fl[i] = (uint32_t)(flags | (b == 0 ? B3_CHUNK_START : 0) | (last ? B3_CHUNK_END | jobs[i].end_flags : 0));
            ending |= last;
        }
        b3s_transpose_msg(ptrs, 0, m);
        b3s_compress(h, m, counter_lo, counter_hi, B3S_LOADU(lens), B3S_LOADU(fl));
        if (ending) {
            uint32_t words[8][B3S_DEGREE];
            for (size_t i = 0; i < 8; i++)
                B3S_STOREU(words[i], h[i]);
            for (size_t lane = 0; lane < B3S_DEGREE; lane++)
                if (b + 1 == blocks[lane])
                    for (size_t i = 0; i < 8; i++)
                        memcpy(out + lane * B3_OUT_LEN + 4 * i, &words[i][lane], 4);
        }
    }
}

B3S_API void B3S_HASH_CHUNKS(const b3_chunk_job *jobs, size_t n, const uint32_t key[8], uint8_t flags, uint8_t *out)
{
    while (n >= B3S_DEGREE) {
        b3s_chunks_group(jobs, key, flags, out);
        jobs += B3S_DEGREE;
        n -= B3S_DEGREE;
        out += B3S_DEGREE * B3_OUT_LEN;
    }
#if B3S_PAD_MIN
    if (n >= B3S_PAD_MIN) {
        b3_chunk_job padded[B3S_DEGREE];
        uint8_t cvs[B3S_DEGREE * B3_OUT_LEN];
        for (size_t i = 0; i < B3S_DEGREE; i++)
            padded[i] = jobs[i < n ? i : 0];
        b3s_chunks_group(padded, key, flags, cvs);
        memcpy(out, cvs, n * B3_OUT_LEN);
        return;
    }
#endif
    bd_b3_hash_chunks_portable(jobs, n, key, flags, out);
}
