/* chunk.c: FastCDC cut points (gear hash, sub-minimum skipping, normalized chunking). */
#include "bodega/bd_chunk.h"
#include "gear_table.h"

void bd_chunk_params_default(bd_chunk_params *p)
{
    p->min_size = BD_CHUNK_MIN_DEFAULT;
    p->avg_size = BD_CHUNK_AVG_DEFAULT;
    p->max_size = BD_CHUNK_MAX_DEFAULT;
    p->level = BD_CHUNK_LEVEL_DEFAULT;
}

static unsigned log2_exact(uint32_t x)
{
    unsigned bits = 0;
    while (x > 1) {
        x >>= 1;
        bits++;
    }
    return bits;
}

bd_status bd_chunk_params_check(const bd_chunk_params *p, bd_error *e)
{
    const char *broken = 0;
    if (p->min_size < BD_CHUNK_SIZE_FLOOR)
        broken = "chunk min_size below 64";
    else if (p->avg_size & (p->avg_size - 1))
        broken = "chunk avg_size not a power of two";
    else if (p->min_size > p->avg_size || p->avg_size > p->max_size)
        broken = "chunk sizes not min <= avg <= max";
    else if (p->max_size > BD_CHUNK_SIZE_CEILING)
        broken = "chunk max_size above 1 GiB";
    else if (p->level > BD_CHUNK_LEVEL_MAX)
        broken = "chunk normalization level above 3";
    return broken ? bd_fail(e, BD_E_INVAL, 0, broken, BD_PATH_AS_GIVEN, 0) : BD_OK;
}

/* The mask of the top `bits` bits of the hash (the bits that depend on the most bytes). */
static uint64_t top_mask(unsigned bits)
{
    return bits ? ~(uint64_t)0 << (64 - bits) : 0;
}

bd_status bd_chunker_init(bd_chunker *c, const bd_chunk_params *p, bd_error *e)
{
    bd_chunk_params defaults;
    if (!p) {
        bd_chunk_params_default(&defaults);
        p = &defaults;
    }
    bd_status rc = bd_chunk_params_check(p, e);
    if (rc != BD_OK)
        return rc;
    unsigned bits = log2_exact(p->avg_size);
    c->params = *p;
    c->mask_s = top_mask(bits + p->level);
    c->mask_l = top_mask(bits > p->level ? bits - p->level : 1);
    c->scanned = 0;
    return BD_OK;
}

/* The first i in [from, to) where the gear hash started at `start` has (h & mask) == 0,
 * else `to`.  The hash at `from` needs only the 63 bytes before it: older ones have been
 * shifted out of the 64-bit value. */
static size_t scan(const uint8_t *d, size_t start, size_t from, size_t to, uint64_t mask)
{
    uint64_t h = 0;
    for (size_t i = from - start > 63 ? from - 63 : start; i < from; i++)
        h = (h << 1) + bd_gear_v1[d[i]];
    for (size_t i = from; i < to; i++) {
        h = (h << 1) + bd_gear_v1[d[i]];
        if (!(h & mask))
            return i;
    }
    return to;
}

static size_t cut_at(bd_chunker *c, size_t len)
{
    c->scanned = 0;
    return len;
}

size_t bd_chunker_find(bd_chunker *c, const uint8_t *data, size_t len, int at_end)
{
    size_t min = c->params.min_size, avg = c->params.avg_size, max = c->params.max_size;
    if (len == 0)
        return 0;
    if (len <= min)
        return at_end ? cut_at(c, len) : 0;
    size_t limit = len < max ? len : max;
    size_t from = c->scanned > min ? c->scanned : min;
    if (from < avg) {
        size_t end = avg < limit ? avg : limit;
        size_t i = scan(data, min, from, end, c->mask_s);
        if (i < end)
            return cut_at(c, i + 1);
        from = end;
    }
    if (from < limit) {
        size_t i = scan(data, min, from, limit, c->mask_l);
        if (i < limit)
            return cut_at(c, i + 1);
    }
    if (limit == max || at_end)
        return cut_at(c, limit);
    c->scanned = limit;
    return 0;
}
