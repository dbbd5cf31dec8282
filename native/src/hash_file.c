/* hash_file.c: the BLAKE3 hash of one file, large files split over threads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_thread.h"
#include "file_read.h"
#include "hash_open.h"
#include "parallel.h"

#define PARALLEL_MIN ((uint64_t)4 << 20)   /* below this, starting threads costs more than it saves */
#define SEGMENT_MIN ((uint64_t)1 << 20)
#define SEGMENT_MAX ((uint64_t)16 << 20)   /* small enough that both cores finish together */
#define SEGMENTS_MAX ((uint64_t)1 << 16)   /* bounds the memory for the halves' values */

static bd_status checkpoint(bd_progress *p, int may_tick, bd_error *e)
{
    if (may_tick)
        return bd_progress_tick(p, 0, e);
    if (bd_progress_cancelled(p))
        return bd_fail(e, BD_E_CANCELLED, 0, "cancel", BD_PATH_AS_GIVEN, 0);
    return BD_OK;
}

/* Feeds len bytes of f at off into h. */
static bd_status hash_range(bd_file *f, bd_blake3 *h, uint64_t off, uint64_t len, uint8_t *buf,
                            bd_progress *p, int may_tick, bd_error *e)
{
    while (len > 0) {
        size_t take = len < BD_READ_BLOCK ? (size_t)len : BD_READ_BLOCK;
        bd_status rc = bd_read_exact(f, buf, take, off, e);
        if (rc != BD_OK)
            return rc;
        bd_blake3_update(h, buf, take);
        bd_progress_add(p, 0, take);
        off += take;
        len -= take;
        rc = checkpoint(p, may_tick, e);
        if (rc != BD_OK)
            return rc;
    }
    return BD_OK;
}

/* The file's leading whole segments, each a subtree hashed by some worker. */
typedef struct segments {
    bd_file *f;
    const bd_blake3 *like;
    uint64_t size;          /* bytes per segment: a power of two of chunks */
    uint8_t *pairs;         /* the two halves' chaining values of each segment */
    uint8_t **bufs;         /* one read buffer per worker */
    bd_progress *p;
} segments;

static bd_status hash_segment(void *ctx, unsigned worker, size_t i, size_t end, bd_error *e)
{
    segments *s = ctx;
    bd_blake3 h;
    (void)end; /* runs of one segment */
    if (!s->bufs[worker] && !(s->bufs[worker] = malloc(BD_READ_BLOCK)))
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    bd_blake3_init_subtree(&h, s->like, i * s->size);
    bd_status rc = hash_range(s->f, &h, i * s->size, s->size, s->bufs[worker], s->p, 0, e);
    return rc != BD_OK ? rc : bd_blake3_finalize_subtree(&h, s->pairs + i * 2 * BD_HASH_LEN, e);
}

static uint64_t segment_size(uint64_t size, unsigned threads)
{
    uint64_t seg = SEGMENT_MIN;
    while (seg < SEGMENT_MAX && size / (2 * seg) >= 8 * (uint64_t)threads)
        seg *= 2;
    while (size / seg > SEGMENTS_MAX)
        seg *= 2;
    return seg;
}

/* Hashes the leading whole segments of f into h on several threads; *done gets their
 * length. */
static bd_status hash_segments(bd_file *f, bd_blake3 *h, uint64_t size, unsigned threads, uint8_t *buf,
                               uint64_t *done, bd_progress *p, bd_error *e)
{
    segments s;
    s.f = f;
    s.like = h;
    s.size = segment_size(size, threads);
    s.p = p;
    size_t n = (size_t)(size / s.size);
    unsigned workers = bd_parallel_workers(n, 1, threads);
    s.pairs = malloc(n * 2 * BD_HASH_LEN);
    s.bufs = calloc(workers, sizeof *s.bufs);
    bd_status rc = BD_OK;
    if (!s.pairs || !s.bufs)
        rc = bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    if (rc == BD_OK) {
        s.bufs[0] = buf;
        rc = bd_parallel_for(n, 1, workers, hash_segment, &s, p, e);
        for (unsigned w = 1; w < workers; w++)
            free(s.bufs[w]);
    }
    for (size_t i = 0; rc == BD_OK && i < n; i++)
        rc = bd_blake3_push_subtree(h, s.pairs + i * 2 * BD_HASH_LEN, s.size / BD_BLAKE3_CHUNK_LEN, e);
    free(s.pairs);
    free(s.bufs);
    if (rc == BD_OK)
        *done = (uint64_t)n * s.size;
    return rc;
}

bd_status bd_hash_open_file(bd_file *f, const bd_stat *before, unsigned threads, uint8_t *buf,
                            uint8_t out[BD_HASH_LEN], bd_progress *p, int may_tick, bd_error *e)
{
    bd_blake3 h;
    uint64_t done = 0;
    bd_status rc = BD_OK;
    bd_blake3_init(&h);
    if (threads == 0)
        threads = bd_cpu_count();
    if (threads > 1 && before->size >= PARALLEL_MIN)
        rc = hash_segments(f, &h, before->size, threads, buf, &done, p, e);
    if (rc == BD_OK)
        rc = hash_range(f, &h, done, before->size - done, buf, p, may_tick, e);
    if (rc == BD_OK)
        rc = bd_check_unchanged(f, before, e);
    if (rc == BD_OK)
        bd_blake3_finalize(&h, out, BD_HASH_LEN);
    return rc;
}

bd_status bd_hash_file(bd_dir *d, const char *name, size_t name_len, unsigned threads,
                       uint8_t out[BD_HASH_LEN], bd_stat *st, bd_progress *p, bd_error *e)
{
    bd_file *f;
    bd_stat before;
    bd_status rc = bd_file_open_read(d, name, name_len, &f, &before, e);
    if (rc != BD_OK)
        return rc;
    uint8_t *buf = malloc(BD_READ_BLOCK);
    uint8_t hash[BD_HASH_LEN];
    rc = buf ? bd_hash_open_file(f, &before, threads, buf, hash, p, 1, e)
             : bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    free(buf);
    bd_file_close(f);
    bd_progress_add(p, 1, 0);
    if (rc != BD_OK) {
        bd_error_set_path(e, BD_PATH_AS_GIVEN, name, name_len);
        return rc;
    }
    memcpy(out, hash, BD_HASH_LEN);
    if (st)
        *st = before;
    return BD_OK;
}
