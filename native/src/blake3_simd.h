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
 *   B3S_NEXT          the hash_many that takes the inputs left over (fewer than DEGREE)
 */

B3S_FN void b3s_round(B3S_VEC v[16], const B3S_VEC m[16], size_t r)
{
    const uint8_t *s = bd_b3_schedule[r];
    /* the four column G functions, interleaved */
    v[0] = B3S_ADD(B3S_ADD(v[0], m[s[0]]), v[4]);
    v[1] = B3S_ADD(B3S_ADD(v[1], m[s[2]]), v[5]);
    v[2] = B3S_ADD(B3S_ADD(v[2], m[s[4]]), v[6]);
    v[3] = B3S_ADD(B3S_ADD(v[3], m[s[6]]), v[7]);
    v[12] = B3S_ROT16(B3S_XOR(v[12], v[0]));
    v[13] = B3S_ROT16(B3S_XOR(v[13], v[1]));
    v[14] = B3S_ROT16(B3S_XOR(v[14], v[2]));
    v[15] = B3S_ROT16(B3S_XOR(v[15], v[3]));
    v[8] = B3S_ADD(v[8], v[12]);
    v[9] = B3S_ADD(v[9], v[13]);
    v[10] = B3S_ADD(v[10], v[14]);
    v[11] = B3S_ADD(v[11], v[15]);
    v[4] = B3S_ROT12(B3S_XOR(v[4], v[8]));
    v[5] = B3S_ROT12(B3S_XOR(v[5], v[9]));
    v[6] = B3S_ROT12(B3S_XOR(v[6], v[10]));
    v[7] = B3S_ROT12(B3S_XOR(v[7], v[11]));
    v[0] = B3S_ADD(B3S_ADD(v[0], m[s[1]]), v[4]);
    v[1] = B3S_ADD(B3S_ADD(v[1], m[s[3]]), v[5]);
    v[2] = B3S_ADD(B3S_ADD(v[2], m[s[5]]), v[6]);
    v[3] = B3S_ADD(B3S_ADD(v[3], m[s[7]]), v[7]);
    v[12] = B3S_ROT8(B3S_XOR(v[12], v[0]));
    v[13] = B3S_ROT8(B3S_XOR(v[13], v[1]));
    v[14] = B3S_ROT8(B3S_XOR(v[14], v[2]));
    v[15] = B3S_ROT8(B3S_XOR(v[15], v[3]));
    v[8] = B3S_ADD(v[8], v[12]);
    v[9] = B3S_ADD(v[9], v[13]);
    v[10] = B3S_ADD(v[10], v[14]);
    v[11] = B3S_ADD(v[11], v[15]);
    v[4] = B3S_ROT7(B3S_XOR(v[4], v[8]));
    v[5] = B3S_ROT7(B3S_XOR(v[5], v[9]));
    v[6] = B3S_ROT7(B3S_XOR(v[6], v[10]));
    v[7] = B3S_ROT7(B3S_XOR(v[7], v[11]));
    /* the four diagonal G functions: (0,5,10,15) (1,6,11,12) (2,7,8,13) (3,4,9,14) */
    v[0] = B3S_ADD(B3S_ADD(v[0], m[s[8]]), v[5]);
    v[1] = B3S_ADD(B3S_ADD(v[1], m[s[10]]), v[6]);
    v[2] = B3S_ADD(B3S_ADD(v[2], m[s[12]]), v[7]);
    v[3] = B3S_ADD(B3S_ADD(v[3], m[s[14]]), v[4]);
    v[15] = B3S_ROT16(B3S_XOR(v[15], v[0]));
    v[12] = B3S_ROT16(B3S_XOR(v[12], v[1]));
    v[13] = B3S_ROT16(B3S_XOR(v[13], v[2]));
    v[14] = B3S_ROT16(B3S_XOR(v[14], v[3]));
    v[10] = B3S_ADD(v[10], v[15]);
    v[11] = B3S_ADD(v[11], v[12]);
    v[8] = B3S_ADD(v[8], v[13]);
    v[9] = B3S_ADD(v[9], v[14]);
    v[5] = B3S_ROT12(B3S_XOR(v[5], v[10]));
    v[6] = B3S_ROT12(B3S_XOR(v[6], v[11]));
    v[7] = B3S_ROT12(B3S_XOR(v[7], v[8]));
    v[4] = B3S_ROT12(B3S_XOR(v[4], v[9]));
    v[0] = B3S_ADD(B3S_ADD(v[0], m[s[9]]), v[5]);
    v[1] = B3S_ADD(B3S_ADD(v[1], m[s[11]]), v[6]);
    v[2] = B3S_ADD(B3S_ADD(v[2], m[s[13]]), v[7]);
    v[3] = B3S_ADD(B3S_ADD(v[3], m[s[15]]), v[4]);
    v[15] = B3S_ROT8(B3S_XOR(v[15], v[0]));
    v[12] = B3S_ROT8(B3S_XOR(v[12], v[1]));
    v[13] = B3S_ROT8(B3S_XOR(v[13], v[2]));
    v[14] = B3S_ROT8(B3S_XOR(v[14], v[3]));
    v[10] = B3S_ADD(v[10], v[15]);
    v[11] = B3S_ADD(v[11], v[12]);
    v[8] = B3S_ADD(v[8], v[13]);
    v[9] = B3S_ADD(v[9], v[14]);
    v[5] = B3S_ROT7(B3S_XOR(v[5], v[10]));
    v[6] = B3S_ROT7(B3S_XOR(v[6], v[11]));
    v[7] = B3S_ROT7(B3S_XOR(v[7], v[8]));
    v[4] = B3S_ROT7(B3S_XOR(v[4], v[9]));
}

/* Hashes exactly B3S_DEGREE inputs. */
B3S_FN void b3s_hash_group(const uint8_t *const *inputs, size_t blocks, const uint32_t key[8],
                           uint64_t counter, int increment_counter, uint8_t flags,
                           uint8_t flags_start, uint8_t flags_end, uint8_t *out)
{
    B3S_VEC h[8], m[16], v[16];
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
        B3_UNROLL
        for (size_t i = 0; i < 8; i++)
            v[i] = h[i];
        v[8] = B3S_SET1(bd_b3_iv[0]);
        v[9] = B3S_SET1(bd_b3_iv[1]);
        v[10] = B3S_SET1(bd_b3_iv[2]);
        v[11] = B3S_SET1(bd_b3_iv[3]);
        v[12] = counter_lo;
        v[13] = counter_hi;
        v[14] = B3S_SET1(B3_BLOCK_LEN);
        v[15] = B3S_SET1(block_flags);
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
    B3S_NEXT(inputs, n, blocks, key, counter, increment_counter, flags, flags_start, flags_end, out);
}
