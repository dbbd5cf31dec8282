/* blake3.c: the BLAKE3 hasher: chunk chaining, the tree of chaining values, the
 * extendable output, subtrees for parallel callers, and the choice of back end. */
#include "blake3_impl.h"
#include "bodega/bd_thread.h"

/* ---- back ends ---------------------------------------------------------------------- */

static const b3_backend BACKENDS[BD_BLAKE3_IMPL_COUNT] = {
    {1, bd_b3_hash_many_portable, bd_b3_hash_chunks_portable},
#ifdef B3_HAVE_SSE41
    {4, bd_b3_hash_many_sse41, bd_b3_hash_chunks_sse41},
#else
    {0, 0, 0},
#endif
#ifdef B3_HAVE_AVX2
    {8, bd_b3_hash_many_avx2, bd_b3_hash_chunks_avx2},
#else
    {0, 0, 0},
#endif
#ifdef B3_HAVE_AVX512
    {16, bd_b3_hash_many_avx512, bd_b3_hash_chunks_avx512},
#else
    {0, 0, 0},
#endif
};

/* The back end in use, -1 until first detected.  A plain int read and written atomically:
 * racing first calls detect the same value. */
static int g_impl = -1;

#define LOAD_INT(p) bd_atomic_load_int(p)
#define STORE_INT(p, v) bd_atomic_store_int((p), (v))

int bd_blake3_impl_available(bd_blake3_impl impl)
{
    if ((unsigned)impl >= BD_BLAKE3_IMPL_COUNT || BACKENDS[impl].degree == 0)
        return 0;
#if defined(B3_HAVE_SSE41)
    switch (impl) {
    case BD_BLAKE3_SSE41:
        return bd_simd_cpu_has(BD_SIMD_SSE41);
    case BD_BLAKE3_AVX2:
        return bd_simd_cpu_has(BD_SIMD_AVX2);
    case BD_BLAKE3_AVX512:
        return bd_simd_cpu_has(BD_SIMD_AVX512);
    default:
        return 1;
    }
#else
    return impl == BD_BLAKE3_PORTABLE;
#endif
}

bd_blake3_impl bd_blake3_impl_current(void)
{
    int impl = LOAD_INT(&g_impl);
    if (impl < 0) {
        impl = BD_BLAKE3_IMPL_COUNT - 1;
        while (impl > 0 && !bd_blake3_impl_available((bd_blake3_impl)impl))
            impl--;
        STORE_INT(&g_impl, impl);
    }
    return (bd_blake3_impl)impl;
}

const char *bd_blake3_impl_name(bd_blake3_impl impl)
{
    static const char *const names[BD_BLAKE3_IMPL_COUNT] = {"portable", "sse41", "avx2", "avx512"};
    return (unsigned)impl < BD_BLAKE3_IMPL_COUNT ? names[impl] : "?";
}

bd_status bd_blake3_use(bd_blake3_impl impl, bd_error *e)
{
    if (!bd_blake3_impl_available(impl))
        return bd_fail(e, BD_E_NOTSUP, 0, "blake3 back end", BD_PATH_AS_GIVEN, bd_blake3_impl_name(impl));
    STORE_INT(&g_impl, (int)impl);
    return BD_OK;
}

const b3_backend *bd_b3_backend(void)
{
    return &BACKENDS[bd_blake3_impl_current()];
}

/* ---- one node's output -------------------------------------------------------------- */

/* The last compression of a node, kept unevaluated until we know whether it is the root. */
typedef struct output {
    uint32_t cv[8];
    uint8_t block[B3_BLOCK_LEN];
    uint8_t block_len;
    uint64_t counter;
    uint8_t flags;
} output;

static void output_cv(const output *o, uint8_t out[B3_OUT_LEN])
{
    uint32_t cv[8];
    memcpy(cv, o->cv, sizeof cv);
    bd_b3_compress_portable(cv, o->block, o->block_len, o->counter, o->flags);
    b3_store_cv(out, cv);
}

static void output_root(const output *o, uint8_t *out, size_t out_len)
{
    uint8_t block[64];
    for (uint64_t counter = 0; out_len > 0; counter++) {
        bd_b3_compress_xof(o->cv, o->block, o->block_len, counter, (uint8_t)(o->flags | B3_ROOT), block);
        size_t take = out_len < 64 ? out_len : 64;
        memcpy(out, block, take);
        out += take;
        out_len -= take;
    }
}

static output parent_output(const uint8_t block[B3_BLOCK_LEN], const uint32_t key[8], uint8_t flags)
{
    output o;
    memcpy(o.cv, key, sizeof o.cv);
    memcpy(o.block, block, B3_BLOCK_LEN);
    o.block_len = B3_BLOCK_LEN;
    o.counter = 0;
    o.flags = (uint8_t)(flags | B3_PARENT);
    return o;
}

/* ---- the current chunk -------------------------------------------------------------- */

static size_t chunk_len(const bd_blake3 *h)
{
    return (size_t)B3_BLOCK_LEN * h->blocks_compressed + h->buf_len;
}

static uint8_t chunk_start_flag(const bd_blake3 *h)
{
    return h->blocks_compressed == 0 ? B3_CHUNK_START : 0;
}

static void chunk_reset(bd_blake3 *h, uint64_t counter)
{
    memcpy(h->cv, h->key, sizeof h->cv);
    h->chunk_counter = counter;
    memset(h->buf, 0, sizeof h->buf);
    h->buf_len = 0;
    h->blocks_compressed = 0;
}

/* Adds bytes to the current chunk (at most what fits).  A block is compressed only once
 * more input follows it, since the chunk's last block needs CHUNK_END. */
static void chunk_update(bd_blake3 *h, const uint8_t *in, size_t len)
{
    if (h->buf_len > 0) {
        size_t take = B3_BLOCK_LEN - h->buf_len;
        if (take > len)
            take = len;
        memcpy(h->buf + h->buf_len, in, take);
        h->buf_len = (uint8_t)(h->buf_len + take);
        in += take;
        len -= take;
        if (len == 0)
            return;
        bd_b3_compress_portable(h->cv, h->buf, B3_BLOCK_LEN, h->chunk_counter,
                                (uint8_t)(h->flags | chunk_start_flag(h)));
        h->blocks_compressed++;
        h->buf_len = 0;
        memset(h->buf, 0, sizeof h->buf);
    }
    while (len > B3_BLOCK_LEN) {
        bd_b3_compress_portable(h->cv, in, B3_BLOCK_LEN, h->chunk_counter,
                                (uint8_t)(h->flags | chunk_start_flag(h)));
        h->blocks_compressed++;
        in += B3_BLOCK_LEN;
        len -= B3_BLOCK_LEN;
    }
    memcpy(h->buf, in, len);
    h->buf_len = (uint8_t)len;
}

static output chunk_output(const bd_blake3 *h)
{
    output o;
    memcpy(o.cv, h->cv, sizeof o.cv);
    memcpy(o.block, h->buf, B3_BLOCK_LEN);
    o.block_len = h->buf_len;
    o.counter = h->chunk_counter;
    o.flags = (uint8_t)(h->flags | chunk_start_flag(h) | B3_CHUNK_END);
    return o;
}

/* ---- wide subtrees: many chunks and parents per back-end call ----------------------- */

static uint64_t round_down_pow2(uint64_t x)
{
    uint64_t p = 1;
    while (p <= x / 2)
        p *= 2;
    return p;
}

/* Hashes up to degree chunks (the last may be partial) to their chaining values. */
static size_t chunks_parallel(const b3_backend *be, const uint8_t *in, size_t len, const uint32_t key[8],
                              uint64_t counter, uint8_t flags, uint8_t *out)
{
    const uint8_t *inputs[B3_MAX_DEGREE];
    size_t n = 0;
    while (len - n * B3_CHUNK_LEN >= B3_CHUNK_LEN) {
        inputs[n] = in + n * B3_CHUNK_LEN;
        n++;
    }
    be->hash_many(inputs, n, B3_CHUNK_LEN / B3_BLOCK_LEN, key, counter, 1, flags, B3_CHUNK_START,
                  B3_CHUNK_END, out);
    if (len > n * B3_CHUNK_LEN) {
        bd_blake3 tail;
        memcpy(tail.key, key, sizeof tail.key);
        tail.flags = flags;
        chunk_reset(&tail, counter + n);
        chunk_update(&tail, in + n * B3_CHUNK_LEN, len - n * B3_CHUNK_LEN);
        output o = chunk_output(&tail);
        output_cv(&o, out + n * B3_OUT_LEN);
        n++;
    }
    return n;
}

/* Hashes pairs of chaining values to their parents; an odd last one passes through. */
static size_t parents_parallel(const b3_backend *be, const uint8_t *cvs, size_t n_cvs,
                               const uint32_t key[8], uint8_t flags, uint8_t *out)
{
    const uint8_t *inputs[B3_MAX_DEGREE];
    size_t n = n_cvs / 2;
    for (size_t i = 0; i < n; i++)
        inputs[i] = cvs + 2 * i * B3_OUT_LEN;
    be->hash_many(inputs, n, 1, key, 0, 0, (uint8_t)(flags | B3_PARENT), 0, 0, out);
    if (n_cvs % 2) {
        memcpy(out + n * B3_OUT_LEN, cvs + 2 * n * B3_OUT_LEN, B3_OUT_LEN);
        n++;
    }
    return n;
}

/* Hashes a subtree of more than one chunk down to at most `degree` chaining values (at
 * least two) without computing the subtree's root, which may be the hash's root. */
static size_t subtree_wide(const b3_backend *be, const uint8_t *in, size_t len, const uint32_t key[8],
                           uint64_t counter, uint8_t flags, uint8_t *out)
{
    if (len <= be->degree * (size_t)B3_CHUNK_LEN)
        return chunks_parallel(be, in, len, key, counter, flags, out);
    /* The left part is the largest power of two of chunks that leaves a nonempty right. */
    size_t left = (size_t)round_down_pow2((len - 1) / B3_CHUNK_LEN) * B3_CHUNK_LEN;
    size_t degree = be->degree;
    if (left > B3_CHUNK_LEN && degree == 1)
        degree = 2; /* so the left side gives two values and the halves stay distinct */
    uint8_t cvs[2 * B3_MAX_DEGREE * B3_OUT_LEN];
    size_t n_left = subtree_wide(be, in, left, key, counter, flags, cvs);
    size_t n_right = subtree_wide(be, in + left, len - left, key, counter + left / B3_CHUNK_LEN, flags,
                                  cvs + degree * B3_OUT_LEN);
    if (n_left == 1) {
        memcpy(out, cvs, 2 * B3_OUT_LEN);
        return 2;
    }
    return parents_parallel(be, cvs, n_left + n_right, key, flags, out);
}

/* Hashes a subtree of more than one chunk to the two chaining values of its halves. */
static void subtree_pair(const b3_backend *be, const uint8_t *in, size_t len, const uint32_t key[8],
                         uint64_t counter, uint8_t flags, uint8_t pair[2 * B3_OUT_LEN])
{
    uint8_t cvs[B3_MAX_DEGREE * B3_OUT_LEN];
    uint8_t next[B3_MAX_DEGREE * B3_OUT_LEN / 2];
    size_t n = subtree_wide(be, in, len, key, counter, flags, cvs);
    while (n > 2) {
        n = parents_parallel(be, cvs, n, key, flags, next);
        memcpy(cvs, next, n * B3_OUT_LEN);
    }
    memcpy(pair, cvs, 2 * B3_OUT_LEN);
}

/* ---- the stack of finished subtrees ------------------------------------------------- */

/* Merges finished subtrees lazily: before a new value is pushed for chunk `counter`, the
 * stack holds one value per 1-bit of the number of chunks before it.  The newest subtree is
 * never merged early, since it may be the root's only child. */
static void stack_merge(bd_blake3 *h, uint64_t counter)
{
    uint64_t total = counter - h->base_chunk;
    size_t keep = 0;
    for (; total; total &= total - 1)
        keep++;
    while (h->stack_len > keep) {
        uint8_t *parent = h->stack + (h->stack_len - 2) * B3_OUT_LEN;
        output o = parent_output(parent, h->key, h->flags);
        output_cv(&o, parent);
        h->stack_len--;
    }
}

static void stack_push(bd_blake3 *h, const uint8_t cv[B3_OUT_LEN], uint64_t counter)
{
    stack_merge(h, counter);
    memcpy(h->stack + h->stack_len * B3_OUT_LEN, cv, B3_OUT_LEN);
    h->stack_len++;
}

/* Turns a full current chunk into a pushed chaining value (more input follows it). */
static void chunk_finish(bd_blake3 *h)
{
    uint8_t cv[B3_OUT_LEN];
    output o = chunk_output(h);
    output_cv(&o, cv);
    stack_push(h, cv, h->chunk_counter);
    chunk_reset(h, h->chunk_counter + 1);
}

/* ---- the public hasher -------------------------------------------------------------- */

static void init_with(bd_blake3 *h, const uint32_t key[8], uint8_t flags)
{
    memcpy(h->key, key, sizeof h->key);
    h->flags = flags;
    h->base_chunk = 0;
    h->stack_len = 0;
    chunk_reset(h, 0);
}

void bd_blake3_init(bd_blake3 *h)
{
    init_with(h, bd_b3_iv, 0);
}

void bd_blake3_init_keyed(bd_blake3 *h, const uint8_t key[BD_BLAKE3_KEY_LEN])
{
    uint32_t words[8];
    for (int i = 0; i < 8; i++)
        words[i] = b3_load32(key + 4 * i);
    init_with(h, words, B3_KEYED_HASH);
}

void bd_blake3_init_derive_key(bd_blake3 *h, const char *context, size_t context_len)
{
    bd_blake3 ctx;
    uint8_t context_key[B3_OUT_LEN];
    uint32_t words[8];
    init_with(&ctx, bd_b3_iv, B3_DERIVE_KEY_CONTEXT);
    bd_blake3_update(&ctx, context, context_len);
    bd_blake3_finalize(&ctx, context_key, sizeof context_key);
    for (int i = 0; i < 8; i++)
        words[i] = b3_load32(context_key + 4 * i);
    init_with(h, words, B3_DERIVE_KEY_MATERIAL);
}

void bd_blake3_update(bd_blake3 *h, const void *data, size_t len)
{
    const uint8_t *in = data;
    const b3_backend *be = bd_b3_backend();
    if (len == 0)
        return;
    if (chunk_len(h) > 0) {
        size_t take = B3_CHUNK_LEN - chunk_len(h);
        if (take > len)
            take = len;
        chunk_update(h, in, take);
        in += take;
        len -= take;
        if (len == 0)
            return;
        chunk_finish(h);
    }
    /* Whole subtrees straight from the input: the largest power of two of chunks that
     * is aligned to the chunks already hashed, leaving the last bytes for the chunk. */
    while (len > B3_CHUNK_LEN) {
        uint64_t sub = round_down_pow2(len);
        uint64_t done = h->chunk_counter * B3_CHUNK_LEN;
        while ((sub - 1) & done)
            sub /= 2;
        uint64_t chunks = sub / B3_CHUNK_LEN;
        if (sub <= B3_CHUNK_LEN) {
            chunk_update(h, in, B3_CHUNK_LEN);
            chunk_finish(h);
        } else {
            uint8_t pair[2 * B3_OUT_LEN];
            subtree_pair(be, in, (size_t)sub, h->key, h->chunk_counter, h->flags, pair);
            stack_push(h, pair, h->chunk_counter);
            stack_push(h, pair + B3_OUT_LEN, h->chunk_counter + chunks / 2);
            chunk_reset(h, h->chunk_counter + chunks);
        }
        in += sub;
        len -= (size_t)sub;
    }
    if (len > 0) {
        chunk_update(h, in, len);
        stack_merge(h, h->chunk_counter);
    }
}

void bd_blake3_finalize(const bd_blake3 *h, uint8_t *out, size_t out_len)
{
    output o;
    size_t remaining;
    if (h->stack_len == 0) {
        o = chunk_output(h);
        output_root(&o, out, out_len);
        return;
    }
    if (chunk_len(h) > 0) {
        o = chunk_output(h);
        remaining = h->stack_len;
    } else {
        /* only after push_subtree: the last pushed pair is the final node's children */
        o = parent_output(h->stack + (h->stack_len - 2) * B3_OUT_LEN, h->key, h->flags);
        remaining = h->stack_len - 2u;
    }
    while (remaining > 0) {
        uint8_t block[B3_BLOCK_LEN];
        remaining--;
        memcpy(block, h->stack + remaining * B3_OUT_LEN, B3_OUT_LEN);
        output_cv(&o, block + B3_OUT_LEN);
        o = parent_output(block, h->key, h->flags);
    }
    output_root(&o, out, out_len);
}

/* ---- many small messages at once ---------------------------------------------------- */

#define JOB_BATCH 64 /* chunk jobs per back-end call: four AVX-512 groups */

/* The chaining value (or, for the root, the hash) of the subtree over k >= 1 chunk
 * values: its left part is the largest power of two of chunks that leaves one for the
 * right, as in any BLAKE3 tree. */
static void merge_chunks(const uint8_t *cvs, size_t k, int root, uint8_t out[B3_OUT_LEN])
{
    uint8_t block[B3_BLOCK_LEN];
    uint32_t cv[8];
    if (k == 1) {
        memcpy(out, cvs, B3_OUT_LEN);
        return;
    }
    size_t left = (size_t)round_down_pow2(k - 1);
    merge_chunks(cvs, left, 0, block);
    merge_chunks(cvs + left * B3_OUT_LEN, k - left, 0, block + B3_OUT_LEN);
    memcpy(cv, bd_b3_iv, sizeof cv);
    bd_b3_compress_portable(cv, block, B3_BLOCK_LEN, 0, (uint8_t)(B3_PARENT | (root ? B3_ROOT : 0)));
    b3_store_cv(out, cv);
}

static size_t message_chunks(size_t len)
{
    return len ? (len + B3_CHUNK_LEN - 1) / B3_CHUNK_LEN : 1;
}

void bd_blake3_hash_messages(const uint8_t *const *msgs, const size_t *lens, size_t n, uint8_t *out)
{
    const b3_backend *be = bd_b3_backend();
    b3_chunk_job jobs[JOB_BATCH];
    uint8_t cvs[JOB_BATCH * B3_OUT_LEN];
    size_t first = 0;
    while (first < n) {
        size_t n_jobs = 0, end = first;
        for (; end < n; end++) {
            size_t chunks = message_chunks(lens[end]);
            if (lens[end] > BD_BLAKE3_SMALL_MAX) {
                bd_blake3 h;  /* a large one alone, at once */
                bd_blake3_init(&h);
                bd_blake3_update(&h, msgs[end], lens[end]);
                bd_blake3_finalize(&h, out + end * B3_OUT_LEN, B3_OUT_LEN);
                continue;
            }
            if (n_jobs + chunks > JOB_BATCH)
                break;
            for (size_t c = 0; c < chunks; c++) {
                size_t left = lens[end] - c * B3_CHUNK_LEN;
                jobs[n_jobs].data = msgs[end] + c * B3_CHUNK_LEN;
                jobs[n_jobs].len = left < B3_CHUNK_LEN ? left : B3_CHUNK_LEN;
                jobs[n_jobs].counter = c;
                jobs[n_jobs].end_flags = chunks == 1 ? B3_ROOT : 0;
                n_jobs++;
            }
        }
        be->hash_chunks(jobs, n_jobs, bd_b3_iv, 0, cvs);
        for (size_t i = first, j = 0; i < end; i++) {
            if (lens[i] > BD_BLAKE3_SMALL_MAX)
                continue;
            size_t chunks = message_chunks(lens[i]);
            merge_chunks(cvs + j * B3_OUT_LEN, chunks, 1, out + i * B3_OUT_LEN);
            j += chunks;
        }
        first = end;
    }
}

/* ---- subtrees ----------------------------------------------------------------------- */

void bd_blake3_init_subtree(bd_blake3 *h, const bd_blake3 *like, uint64_t offset)
{
    init_with(h, like->key, like->flags);
    h->base_chunk = offset / B3_CHUNK_LEN;
    h->chunk_counter = h->base_chunk;
}

static int is_pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

bd_status bd_blake3_finalize_subtree(const bd_blake3 *h, uint8_t pair[2 * BD_HASH_LEN], bd_error *e)
{
    bd_blake3 t = *h;
    size_t len = chunk_len(&t);
    uint64_t chunks = t.chunk_counter - t.base_chunk + (len > 0);
    if ((len != 0 && len != B3_CHUNK_LEN) || chunks < 2 || !is_pow2(chunks) || t.base_chunk % chunks)
        return bd_fail(e, BD_E_INVAL, 0, "blake3 subtree", BD_PATH_AS_GIVEN, 0);
    if (len)
        chunk_finish(&t);
    while (t.stack_len > 2) {
        uint8_t *parent = t.stack + (t.stack_len - 2) * B3_OUT_LEN;
        output o = parent_output(parent, t.key, t.flags);
        output_cv(&o, parent);
        t.stack_len--;
    }
    memcpy(pair, t.stack, 2 * B3_OUT_LEN);
    return BD_OK;
}

bd_status bd_blake3_push_subtree(bd_blake3 *h, const uint8_t pair[2 * BD_HASH_LEN], uint64_t chunks,
                                 bd_error *e)
{
    size_t len = chunk_len(h);
    uint64_t at = h->chunk_counter + (len > 0);
    if ((len != 0 && len != B3_CHUNK_LEN) || chunks < 2 || !is_pow2(chunks) || (at - h->base_chunk) % chunks)
        return bd_fail(e, BD_E_INVAL, 0, "blake3 subtree", BD_PATH_AS_GIVEN, 0);
    if (len)
        chunk_finish(h);
    stack_push(h, pair, at);
    stack_push(h, pair + B3_OUT_LEN, at + chunks / 2);
    chunk_reset(h, at + chunks);
    return BD_OK;
}
