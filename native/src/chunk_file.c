/* chunk_file.c: one read of a file that yields its chunks, their hashes and its hash. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_chunk.h"
#include "file_read.h"

typedef struct reader {
    bd_file *f;
    uint64_t size, offset;   /* file size; bytes read so far */
    uint8_t *buf;
    size_t cap, start, end;  /* buf[start .. end) is read and not yet cut */
} reader;

/* Reads the next block into r->buf, first moving the uncut bytes to the front when the
 * block would not fit after them. */
static bd_status read_more(reader *r, bd_progress *p, bd_error *e)
{
    if (r->cap - r->end < BD_READ_BLOCK) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    uint64_t left = r->size - r->offset;
    size_t take = left < BD_READ_BLOCK ? (size_t)left : BD_READ_BLOCK;
    bd_status rc = bd_read_exact(r->f, r->buf + r->end, take, r->offset, e);
    if (rc != BD_OK)
        return rc;
    r->end += take;
    r->offset += take;
    bd_progress_add(p, 0, take);
    return bd_progress_tick(p, 0, e);
}

static bd_status chunk_open_file(reader *r, bd_chunker *c, bd_chunk_fn fn, void *ctx, bd_blake3 *whole,
                                 bd_progress *p, bd_error *e)
{
    uint64_t chunk_offset = 0;
    for (;;) {
        int at_end = r->offset == r->size;
        size_t cut = bd_chunker_find(c, r->buf + r->start, r->end - r->start, at_end);
        if (cut) {
            bd_chunk chunk;
            bd_blake3 h;
            const uint8_t *data = r->buf + r->start;
            bd_blake3_init(&h);
            bd_blake3_update(&h, data, cut);
            bd_blake3_finalize(&h, chunk.hash, BD_HASH_LEN);
            if (whole)
                bd_blake3_update(whole, data, cut);
            chunk.offset = chunk_offset;
            chunk.length = cut;
            if (fn && fn(ctx, &chunk, data))
                return bd_fail(e, BD_E_CANCELLED, 0, "chunk callback", BD_PATH_AS_GIVEN, 0);
            chunk_offset += cut;
            r->start += cut;
        } else if (at_end) {
            return BD_OK;
        } else {
            bd_status rc = read_more(r, p, e);
            if (rc != BD_OK)
                return rc;
        }
    }
}

bd_status bd_chunk_file(bd_dir *d, const char *name, size_t name_len, const bd_chunk_params *params,
                        bd_chunk_fn fn, void *ctx, uint8_t file_hash[BD_HASH_LEN], bd_stat *st,
                        bd_progress *p, bd_error *e)
{
    bd_chunker c;
    bd_stat before;
    reader r;
    bd_blake3 whole;
    bd_status rc = bd_chunker_init(&c, params, e);
    if (rc != BD_OK)
        return rc;
    rc = bd_file_open_read(d, name, name_len, &r.f, &before, e);
    if (rc != BD_OK)
        return rc;
    r.size = before.size;
    r.offset = r.start = r.end = 0;
    r.cap = (size_t)c.params.max_size + 2 * BD_READ_BLOCK; /* a whole chunk plus a block to read */
    r.buf = malloc(r.cap);
    bd_blake3_init(&whole);
    rc = r.buf ? chunk_open_file(&r, &c, fn, ctx, file_hash ? &whole : 0, p, e)
               : bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    if (rc == BD_OK)
        rc = bd_check_unchanged(r.f, &before, e);
    free(r.buf);
    bd_file_close(r.f);
    bd_progress_add(p, 1, 0);
    if (rc != BD_OK) {
        bd_error_set_path(e, BD_PATH_AS_GIVEN, name, name_len);
        return rc;
    }
    if (file_hash)
        bd_blake3_finalize(&whole, file_hash, BD_HASH_LEN);
    if (st)
        *st = before;
    return BD_OK;
}
