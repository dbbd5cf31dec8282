/* manifest.c: the manifest table of bd_manifest.h (docs/format.md, version 2). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_manifest.h"
#include "bodega/bd_memory.h"
#include "bodega/bd_thread.h"
#include "parallel.h"
#include "scan_order.h"

#define S_TYPE 0170000u
#define S_REG 0100000u
#define S_DIR 0040000u
#define S_LNK 0120000u
#define S_FIFO 0010000u
#define S_CHR 0020000u
#define S_BLK 0060000u
#define S_SOCK 0140000u

#define NOT_FOUND ((size_t)-1)
#define ROOT_DOMAIN "bodega.manifest.root.v1"

static volatile uint64_t last_serial;  /* bd_mf's serial: the tables made so far */

static const uint8_t ZERO_HASH[BD_HASH_LEN];

/* Where each column starts in the table section, in bytes per entry (times n). */
enum {
    COL_SIZE = 0, COL_MTIME = 8, COL_UID = 16, COL_GID = 20, COL_MODE = 24, COL_ATTRS = 28,
    COL_PLEN = 32, COL_LLEN = 36, COL_KIND = 40, COL_HASH = 41, COL_PATHS = 73
};

/* ---- layout ------------------------------------------------------------------------ */

/* Points m's column pointers into its sections (docs/format.md, "Sections"). */
static void lay_out(bd_mf *m, size_t paths_len, size_t links_len)
{
    size_t n = m->n;
    uint8_t *t = m->table;
    m->size = (uint64_t *)(void *)(t + COL_SIZE * n);
    m->mtime_ns = (int64_t *)(void *)(t + COL_MTIME * n);
    m->uid = (uint32_t *)(void *)(t + COL_UID * n);
    m->gid = (uint32_t *)(void *)(t + COL_GID * n);
    m->mode = (uint32_t *)(void *)(t + COL_MODE * n);
    m->attrs = (uint32_t *)(void *)(t + COL_ATTRS * n);
    m->path_len = (uint32_t *)(void *)(t + COL_PLEN * n);
    m->link_len = (uint32_t *)(void *)(t + COL_LLEN * n);
    m->kind = t + COL_KIND * n;
    m->hash = t + COL_HASH * n;
    m->paths = (char *)(t + COL_PATHS * n);
    m->links = m->paths + paths_len;
    m->flags = (uint8_t *)m->links + links_len;
    if (m->cache) {
        uint8_t *c = m->cache;
        m->ctime_ns = (int64_t *)(void *)c;
        m->file_id = (uint64_t *)(void *)(c + 8 * n);
        m->file_id_hi = (uint64_t *)(void *)(c + 16 * n);
        m->volume_id = (uint64_t *)(void *)(c + 24 * n);
    }
}

/* Allocates m's sections in one block: the table section, then the stat cache section
 * (when with_cache) 8-byte aligned for its 64-bit columns; a valid pointer even when empty.
 * zeroed or left for the caller to fill.  0 without memory. */
static int alloc_sections(bd_mf *m, int with_cache, int zeroed)
{
    size_t cache_at = (m->table_len + 8) & ~(size_t)7;  /* one byte at least after the table */
    size_t total = cache_at + (with_cache ? m->cache_len : 0);
    m->table = bd_memory_alloc(total);  /* a large one kept from a manifest freed before */
    if (!m->table)
        return 0;
    if (zeroed)
        memset(m->table, 0, total);
    m->cache = with_cache ? m->table + cache_at : NULL;
    return 1;
}

static bd_status no_memory(bd_mf *m, bd_error *e)
{
    bd_mf_free(m);
    return bd_fail(e, BD_E_NOMEM, ENOMEM, "manifest", BD_PATH_AS_GIVEN, NULL);
}

/* bd_mf_alloc, its sections zeroed or (zeroed 0) left for the caller to fill. */
static bd_status mf_alloc(size_t n, size_t paths_len, size_t links_len, int with_cache, int zeroed,
                          bd_mf **out, bd_error *e)
{
    if (n > UINT32_MAX - 1)
        return bd_fail(e, BD_E_INVAL, 0, "manifest: too many entries", BD_PATH_AS_GIVEN, NULL);
    bd_mf *m = calloc(1, sizeof *m);
    if (!m)
        return no_memory(m, e);
    m->serial = bd_atomic_fetch_add_u64(&last_serial, 1) + 1;
    m->n = n;
    m->table_len = BD_MF_ROW_BYTES * n + paths_len + links_len;
    m->cache_len = with_cache ? BD_MF_CACHE_ROW_BYTES * n : 0;
    m->path_off = malloc((n + 1) * sizeof *m->path_off);
    m->link_off = malloc((n + 1) * sizeof *m->link_off);
    if (!m->path_off || !m->link_off || !alloc_sections(m, with_cache, zeroed))
        return no_memory(m, e);
    lay_out(m, paths_len, links_len);
    m->path_off[0] = m->link_off[0] = 0;
    *out = m;
    return BD_OK;
}

bd_status bd_mf_alloc(size_t n, size_t paths_len, size_t links_len, int with_cache, bd_mf **out,
                      bd_error *e)
{
    return mf_alloc(n, paths_len, links_len, with_cache, 1, out, e);
}

bd_status bd_mf_alloc_raw(size_t table_len, size_t cache_len, int with_cache, bd_mf **out, bd_error *e)
{
    if (table_len > SIZE_MAX / 2 || cache_len > SIZE_MAX / 4)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "manifest", BD_PATH_AS_GIVEN, NULL);
    bd_mf *m = calloc(1, sizeof *m);
    if (!m)
        return no_memory(m, e);
    m->serial = bd_atomic_fetch_add_u64(&last_serial, 1) + 1;
    m->table_len = table_len;
    m->cache_len = with_cache ? cache_len : 0;
    if (!alloc_sections(m, with_cache, 0))
        return no_memory(m, e);
    *out = m;
    return BD_OK;
}

void bd_mf_index(bd_mf *m)
{
    for (size_t i = 0; i < m->n; i++) {
        m->path_off[i + 1] = m->path_off[i] + m->path_len[i];
        m->link_off[i + 1] = m->link_off[i] + m->link_len[i];
    }
}

void bd_mf_free(bd_mf *m)
{
    if (!m)
        return;
    bd_memory_free(m->table);  /* the cache section too: one block */
    free(m->path_off);
    free(m->link_off);
    free(m->pair);
    free(m);
}

/* ---- checks ------------------------------------------------------------------------ */

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t ld64(const uint8_t *p)
{
    return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

/* Whether the n bytes at s are all ASCII: the words OR-ed together, the tail as one word
 * that overlaps the last full one (most names are ASCII: no byte is looked at alone). */
static int is_ascii(const uint8_t *s, size_t n)
{
    uint64_t acc = 0, w;
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            acc |= s[i];
        return !(acc & 0x80);
    }
    for (size_t i = 0; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    memcpy(&w, s + n - 8, 8);
    return !((acc | w) & 0x8080808080808080ULL);
}

/* 1 when s[0..n) is valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
static int is_utf8(const uint8_t *s, size_t n)
{
    if (is_ascii(s, n))
        return 1;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            /* names are mostly ASCII: skip 8 bytes at a time while no high bit is set */
            uint64_t w;
            while (n - i >= 8 && (memcpy(&w, s + i, 8), (w & 0x8080808080808080ULL) == 0))
                i += 8;
            if (i < n && s[i] < 0x80)
                i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static uint8_t flags_of(const char *path, size_t path_len, const char *link, size_t link_len)
{
    uint8_t f = 0;
    if (!is_utf8((const uint8_t *)path, path_len))
        f |= BD_MF_PATH_NOT_UTF8;
    if (!is_utf8((const uint8_t *)link, link_len))
        f |= BD_MF_LINK_NOT_UTF8;
    return f;
}

/* Nonzero when one of the 8 bytes of w is zero (exact: no byte is mistaken for zero unless
 * a zero byte comes before it, and the caller then looks byte by byte). */
static uint64_t has_zero_byte(uint64_t w)
{
    return (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
}

/* 1 when p is a relative '/'-separated path with no empty, "." or ".." component, no NUL.
 * Paths are checked at every manifest load: 8 bytes at a time up to the next '/' or NUL. */
static int path_ok(const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    size_t start = 0, i = 0;
    for (;;) {
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (has_zero_byte(w) || has_zero_byte(w ^ 0x2F2F2F2F2F2F2F2FULL)) /* NUL or '/' */
                break;
            i += 8;
        }
        while (i < n && p[i] != '/' && p[i] != 0)
            i++;
        if (i < n && p[i] == 0)
            return 0;
        size_t len = i - start;
        if (len == 0 || (len == 1 && p[start] == '.') || (len == 2 && p[start] == '.' && p[start + 1] == '.'))
            return 0;
        if (i == n)
            return 1;
        start = ++i;
    }
}

/* The length of the longest common prefix of a[0..n) and b[0..n): 8 bytes at a time. */
static size_t common_prefix(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y)
            break;
    }
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* Where the path p (of n bytes) starts to need checking, given the path before it in a
 * table, prev (of prev_n bytes), already checked: after the last '/' of their common
 * prefix (0 when they share no whole component).  Sets *order to the memcmp order of prev
 * and p.  The components before that point are prev's own, each followed by '/', so they
 * are well formed, and valid UTF-8 when prev is: a cut right after an ASCII byte splits no
 * character.  Sorted paths share most of their bytes with the path before them, so a load
 * checks each path's last components, not all of them. */
static size_t unchecked_from(const uint8_t *prev, size_t prev_n, const uint8_t *p, size_t n, int *order)
{
    size_t short_n = prev_n < n ? prev_n : n;
    size_t c = common_prefix(prev, p, short_n);
    if (c < short_n)
        *order = prev[c] < p[c] ? -1 : 1;
    else
        *order = prev_n < n ? -1 : prev_n > n;
    while (c > 0 && p[c - 1] != '/')
        c--;
    return c;
}

/* memcmp order of two byte strings: <0, 0, >0. */
static int path_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int mode_fits(uint8_t kind, uint32_t mode)
{
    uint32_t type = mode & S_TYPE;
    switch (kind) {
    case BD_KIND_FILE:
        return type == S_REG && mode <= 0177777u;
    case BD_KIND_DIR:
        return type == S_DIR && mode <= 0177777u;
    case BD_KIND_SYMLINK:
        return mode == S_LNK;
    case BD_KIND_SPECIAL:
        return (type == S_FIFO || type == S_CHR || type == S_BLK || type == S_SOCK) && mode <= 0177777u;
    case BD_KIND_REPARSE:
        return mode <= 0177777u;
    default:
        return 0;
    }
}

static int fail_at(bd_mf_problem *pr, uint64_t offset, uint64_t entry, int in_cache, const char *what)
{
    pr->offset = offset;
    pr->entry = entry;
    pr->in_cache = in_cache;
    pr->what = what;
    return 0;
}

/* Full manifests: every hard link names an earlier file that is no hard link itself and has
 * the same content.  offs holds the n + 1 path offsets. */
static int check_hard_links(const uint8_t *t, uint64_t n, const uint64_t *offs, const uint64_t *loffs,
                            bd_mf_problem *pr)
{
    const uint8_t *plen = t + COL_PLEN * n, *llen = t + COL_LLEN * n, *kind = t + COL_KIND * n;
    const uint8_t *hash = t + COL_HASH * n, *size = t + COL_SIZE * n;
    const char *paths = (const char *)t + COL_PATHS * n;
    const char *links = paths + offs[n];
    for (uint64_t i = 0; i < n; i++) {
        uint32_t ll = ld32(llen + 4 * i);
        if (kind[i] != BD_KIND_FILE || ll == 0)
            continue;
        const char *l = links + loffs[i];
        uint64_t lo = 0, hi = i, j = n;
        while (lo < hi) {  /* the paths before i are sorted: binary search */
            uint64_t mid = lo + (hi - lo) / 2;
            int c = path_cmp(paths + offs[mid], ld32(plen + 4 * mid), l, ll);
            if (c == 0) {
                j = mid;
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (j == n || kind[j] != BD_KIND_FILE || ld32(llen + 4 * j) != 0
            || memcmp(hash + 32 * i, hash + 32 * j, BD_HASH_LEN) != 0 || ld64(size + 8 * i) != ld64(size + 8 * j))
            return fail_at(pr, COL_LLEN * n + 4 * i, i, 0,
                           "a hard link that does not name an earlier file with the same content");
    }
    return 1;
}

int bd_mf_check_sections(const uint8_t *t, size_t table_len, const uint8_t *cache,
                         size_t cache_len, uint64_t n, int delta, int owners, bd_mf_problem *pr)
{
    const uint64_t none = UINT64_MAX;
    if (n > UINT32_MAX - 1 || n > table_len / BD_MF_ROW_BYTES)
        return fail_at(pr, table_len, none, 0, "table section too short for its entry count");
    if (cache && cache_len != BD_MF_CACHE_ROW_BYTES * n)
        return fail_at(pr, cache_len < BD_MF_CACHE_ROW_BYTES * n ? cache_len : BD_MF_CACHE_ROW_BYTES * n,
                       none, 1, "cache section length does not match the entry count");
    const uint8_t *size = t + COL_SIZE * n, *mtime = t + COL_MTIME * n, *mode = t + COL_MODE * n;
    const uint8_t *attrs = t + COL_ATTRS * n, *uid = t + COL_UID * n, *gid = t + COL_GID * n;
    const uint8_t *plen = t + COL_PLEN * n, *llen = t + COL_LLEN * n, *kind = t + COL_KIND * n;
    const uint8_t *hash = t + COL_HASH * n;
    uint64_t paths_len = 0, links_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        paths_len += ld32(plen + 4 * i);
        links_len += ld32(llen + 4 * i);
    }
    /* n < 2^32 entries of lengths < 2^32: neither sum reaches 2^64, nor does this one
       unless it exceeds table_len, which the comparison then shows */
    if (paths_len > table_len || links_len > table_len)
        return fail_at(pr, COL_PLEN * n, none, 0, "path and link lengths do not add up to the table length");
    if ((uint64_t)table_len != BD_MF_ROW_BYTES * n + paths_len + links_len)
        return fail_at(pr, COL_PLEN * n, none, 0, "path and link lengths do not add up to the table length");
    const uint8_t *paths = t + COL_PATHS * n, *links = paths + paths_len, *flags = links + links_len;
    uint64_t poff = 0, loff = 0, prev_off = 0, prev_len = 0;
    int hard_links = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t pl = ld32(plen + 4 * i), ll = ld32(llen + 4 * i), md = ld32(mode + 4 * i);
        uint8_t k = kind[i];
        const uint8_t *p = paths + poff, *l = links + loff, *h = hash + 32 * i;
        uint64_t where = (uint64_t)(paths - t) + poff;
        /* Only what follows the components this path shares with the one before (checked
           already) is checked again: half the instructions of a load's checks at 100k entries. */
        int order = -1;
        size_t from = i > 0 ? unchecked_from(paths + prev_off, prev_len, p, pl, &order) : 0;
        if (from == pl || !path_ok(p + from, pl - from))
            return fail_at(pr, where, i, 0, "malformed path");
        if (order >= 0)
            return fail_at(pr, where, i, 0, "paths out of order or repeated");
        if (k > BD_KIND_SPECIAL || (k == BD_MF_DELETED && !delta))
            return fail_at(pr, COL_KIND * n + i, i, 0, "unknown kind");
        /* the shared components are valid UTF-8 when the path before is (its flag, checked
           above); else the whole path is looked at */
        size_t utf8_from = from > 0 && !(flags[i - 1] & BD_MF_PATH_NOT_UTF8) ? from : 0;
        int path_utf8 = is_utf8(p + utf8_from, pl - utf8_from);
        if (flags[i] != ((path_utf8 ? 0 : BD_MF_PATH_NOT_UTF8) | (is_utf8(l, ll) ? 0 : BD_MF_LINK_NOT_UTF8)))
            return fail_at(pr, (uint64_t)(flags - t) + i, i, 0, "UTF-8 flags do not match the bytes");
        if ((!owners || k == BD_MF_DELETED) && (ld32(uid + 4 * i) || ld32(gid + 4 * i)))
            return fail_at(pr, COL_UID * n + 4 * i, i, 0, "an owner where none is recorded");
        if (k == BD_MF_DELETED) {
            if (md || ld32(attrs + 4 * i) || ld64(size + 8 * i) || ld64(mtime + 8 * i) || ll ||
                memcmp(h, ZERO_HASH, BD_HASH_LEN) != 0)
                return fail_at(pr, COL_KIND * n + i, i, 0, "a tombstone with fields set");
        } else {
            if (!mode_fits(k, md))
                return fail_at(pr, COL_MODE * n + 4 * i, i, 0, "mode does not match the kind");
            if (ld32(attrs + 4 * i) & ~BD_MF_ATTRS_KEPT)
                return fail_at(pr, COL_ATTRS * n + 4 * i, i, 0, "unknown attribute bits");
            if (k != BD_KIND_FILE && memcmp(h, ZERO_HASH, BD_HASH_LEN) != 0)
                return fail_at(pr, COL_HASH * n + 32 * i, i, 0, "a content hash on something not a file");
            if (k == BD_KIND_FILE && ll) {
                if (!path_ok(l, ll) || path_cmp((const char *)l, ll, (const char *)p, pl) >= 0)
                    return fail_at(pr, COL_LLEN * n + 4 * i, i, 0, "a hard link that does not name an earlier path");
                hard_links = 1;
            } else if (k != BD_KIND_SYMLINK && k != BD_KIND_REPARSE && ll) {
                return fail_at(pr, COL_LLEN * n + 4 * i, i, 0, "a link target on something not a link");
            }
            if ((k == BD_KIND_SYMLINK || k == BD_KIND_REPARSE) && ld64(size + 8 * i) != ll)
                return fail_at(pr, COL_SIZE * n + 8 * i, i, 0, "a link's size is not its target's length");
            if ((k == BD_KIND_DIR || k == BD_KIND_SPECIAL) && ld64(size + 8 * i) != 0)
                return fail_at(pr, COL_SIZE * n + 8 * i, i, 0, "a size on a directory or special file");
        }
        prev_off = poff, prev_len = pl;
        poff += pl, loff += ll;
    }
    if (!hard_links || delta)
        return 1;
    uint64_t *offs = malloc((size_t)(n + 1) * 2 * sizeof *offs);
    if (!offs)
        return fail_at(pr, 0, none, 0, "out of memory while checking hard links");
    uint64_t *loffs = offs + n + 1;
    offs[0] = loffs[0] = 0;
    for (uint64_t i = 0; i < n; i++) {
        offs[i + 1] = offs[i] + ld32(plen + 4 * i);
        loffs[i + 1] = loffs[i] + ld32(llen + 4 * i);
    }
    int ok = check_hard_links(t, n, offs, loffs, pr);
    free(offs);
    return ok;
}

bd_status bd_mf_from_raw(bd_mf *m, size_t n, int delta, int owners, int64_t scan_start_ns,
                         int64_t racy_window_ns, bd_error *e)
{
    if (n > UINT32_MAX - 1 || n > m->table_len / BD_MF_ROW_BYTES)
        return bd_fail(e, BD_E_INVAL, 0, "manifest: unchecked sections", BD_PATH_AS_GIVEN, NULL);
    size_t paths_len = 0, links_len = 0;
    for (size_t i = 0; i < n; i++) {
        paths_len += ld32(m->table + COL_PLEN * n + 4 * i);
        links_len += ld32(m->table + COL_LLEN * n + 4 * i);
    }
    if (m->table_len != BD_MF_ROW_BYTES * n + paths_len + links_len
        || (m->cache && m->cache_len != BD_MF_CACHE_ROW_BYTES * n))
        return bd_fail(e, BD_E_INVAL, 0, "manifest: unchecked sections", BD_PATH_AS_GIVEN, NULL);
    uint64_t *path_off = malloc((n + 1) * sizeof *path_off), *link_off = malloc((n + 1) * sizeof *link_off);
    if (!path_off || !link_off) {
        free(path_off);
        free(link_off);
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "manifest", BD_PATH_AS_GIVEN, NULL);
    }
    m->n = n;
    m->path_off = path_off;
    m->link_off = link_off;
    m->path_off[0] = m->link_off[0] = 0;
    lay_out(m, paths_len, links_len);
    bd_mf_index(m);
    if (m->cache) {
        m->scan_start_ns = scan_start_ns;
        m->racy_window_ns = racy_window_ns;
    }
    m->delta = delta;
    m->owners = owners != 0;
    return BD_OK;
}

bd_status bd_mf_from_sections(const uint8_t *table, size_t table_len, const uint8_t *cache,
                              size_t cache_len, size_t n, int delta, int owners, int64_t scan_start_ns,
                              int64_t racy_window_ns, bd_mf **out, bd_error *e)
{
    bd_mf *m = NULL;
    bd_status rc = bd_mf_alloc_raw(table_len, cache_len, cache != NULL, &m, e);
    if (rc != BD_OK)
        return rc;
    memcpy(m->table, table, table_len);
    if (cache)
        memcpy(m->cache, cache, cache_len);
    rc = bd_mf_from_raw(m, n, delta, owners, scan_start_ns, racy_window_ns, e);
    if (rc != BD_OK) {
        bd_mf_free(m);
        return rc;
    }
    *out = m;
    return BD_OK;
}

/* ---- from a scan ------------------------------------------------------------------- */

/* The scan's entry at sorted position i: through the sorted order of a scan left in walk
 * order (scan_order.h), else the i-th. */
static const bd_scan_entry *sorted_entry(const bd_scan_entry *en, const uint32_t *order, size_t i)
{
    return &en[order ? order[i] : i];
}

/* A file that may have other names (a regular file with nlink > 1). */
static int may_have_links(const bd_scan_entry *x)
{
    return x->kind == BD_KIND_FILE && x->nlink > 1;
}

/* An entry's inode hashed (splitmix64's finaliser over its ids): its low bits pick a slot of
 * the inode table, its high 32 a tag kept beside the slot's entry. */
static uint64_t inode_hash(const bd_scan_entry *x)
{
    uint64_t h = x->file_id ^ (x->file_id_hi * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)x->volume << 48);
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBULL;
    h ^= h >> 31;
    return h;
}

static int same_inode(const bd_scan_entry *a, const bd_scan_entry *b)
{
    return a->volume == b->volume && a->file_id == b->file_id && a->file_id_hi == b->file_id_hi;
}

/* A slot of the inode table: the entry holding it (BD_MF_NONE: free), and its hash's tag. */
typedef struct inode_slot {
    uint32_t entry;
    uint32_t tag;
} inode_slot;

/* first[i] = the index of the first name (in path order) of entry i's inode when entry i is
 * a hard link after it, else BD_MF_NONE.  Returns 0, or -1 without memory.
 *
 * One pass in path order over an open-addressing table of inodes: the first name met is the
 * first in path order.  Linear in the entries: a tree whose every file has a name outside it
 * too (a `cp -al` mirror, a package store) pays no sort.  A probe compares tags, and reads the
 * entry a slot holds only when they match: in such a tree every file is in the table, and
 * reading the entry of each occupied slot a probe passed (scattered through the scan) cost a
 * cache miss each. */
static int find_hard_links(const bd_scan *s, uint32_t *first)
{
    size_t n = bd_scan_count(s), k = 0;
    const bd_scan_entry *en = bd_scan_entries(s);
    const uint32_t *order = bd_scan_sorted_order(s);
    for (size_t i = 0; i < n; i++) {
        first[i] = BD_MF_NONE;
        k += may_have_links(sorted_entry(en, order, i));
    }
    if (k < 2)
        return 0;
    size_t cap = 4;
    while (cap < 2 * k)  /* at most half full: short probes */
        cap *= 2;
    inode_slot *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return -1;
    memset(slots, 0xFF, cap * sizeof *slots);  /* every entry BD_MF_NONE */
    for (size_t i = 0; i < n; i++) {
        const bd_scan_entry *x = sorted_entry(en, order, i);
        if (!may_have_links(x))
            continue;
        uint64_t h = inode_hash(x);
        uint32_t tag = (uint32_t)(h >> 32);
        for (size_t at = (size_t)h & (cap - 1);; at = (at + 1) & (cap - 1)) {
            uint32_t j = slots[at].entry;
            if (j == BD_MF_NONE) {
                slots[at].entry = (uint32_t)i;
                slots[at].tag = tag;
                break;
            }
            if (slots[at].tag == tag && same_inode(sorted_entry(en, order, j), x)) {
                first[i] = j;
                break;
            }
        }
    }
    free(slots);
    return 0;
}

/* Rows a worker of bd_mf_from_scan fills at once: the chunk's first offsets in paths and
 * links are known before the workers start, so chunks fill in any order on any thread. */
#define ROWS_CHUNK 4096u

/* What the workers of bd_mf_from_scan share. */
typedef struct scan_rows {
    const bd_scan *s;
    const uint32_t *first;     /* see find_hard_links */
    bd_mf *m;
    const uint64_t *poff;      /* per chunk: its first path offset, then its first link offset */
    uint8_t *fine;             /* per chunk: 1 when a timestamp in it is not a whole second */
} scan_rows;

/* The link an entry of the scan gets in the manifest (a hard link: its first name). */
static const char *link_of(const bd_scan_entry *en, const uint32_t *order, const char *arena,
                           const uint32_t *first, size_t i, uint32_t *len)
{
    const bd_scan_entry *x = sorted_entry(en, order, i);
    if (first[i] != BD_MF_NONE) {
        const bd_scan_entry *f = sorted_entry(en, order, first[i]);
        *len = f->path_len;
        return arena + f->path_off;
    }
    *len = x->kind == BD_KIND_SYMLINK || x->kind == BD_KIND_REPARSE ? x->link_len : 0;
    return arena + x->path_off + x->path_len;
}

/* bd_run_fn: fills the rows of chunks start .. end-1. */
static bd_status fill_rows(void *ctx, unsigned worker, size_t start, size_t end, bd_error *e)
{
    (void)worker;
    (void)e;
    const scan_rows *r = ctx;
    const bd_scan *s = r->s;
    const bd_scan_entry *en = bd_scan_entries(s);
    const uint32_t *order = bd_scan_sorted_order(s);
    const char *arena = bd_scan_arena(s);
    bd_mf *m = r->m;
    for (size_t c = start; c < end; c++) {
        uint64_t poff = r->poff[2 * c], loff = r->poff[2 * c + 1];
        size_t last = (c + 1) * ROWS_CHUNK < m->n ? (c + 1) * ROWS_CHUNK : m->n;
        uint16_t last_volume = UINT16_MAX;
        uint64_t volume_id = 0;
        int fine = 0;
        for (size_t i = c * ROWS_CHUNK; i < last; i++) {
            const bd_scan_entry *x = sorted_entry(en, order, i);
            uint8_t k = x->kind;
            uint32_t ll;
            const char *link = link_of(en, order, arena, r->first, i, &ll);
            m->path_off[i] = poff;
            m->link_off[i] = loff;
            m->kind[i] = k;
            memset(m->hash + 32 * i, 0, BD_HASH_LEN);  /* the one column not taken from the scan */
            m->mode[i] = k == BD_KIND_SYMLINK ? S_LNK : x->mode;
            m->attrs[i] = x->attrs & BD_MF_ATTRS_KEPT;
            m->uid[i] = m->owners ? x->uid : 0;
            m->gid[i] = m->owners ? x->gid : 0;
            m->size[i] = k == BD_KIND_FILE ? x->size : (k == BD_KIND_SYMLINK || k == BD_KIND_REPARSE) ? ll : 0;
            m->mtime_ns[i] = x->mtime_ns;
            m->path_len[i] = x->path_len;
            m->link_len[i] = ll;
            memcpy(m->paths + poff, arena + x->path_off, x->path_len);
            memcpy(m->links + loff, link, ll);
            m->flags[i] = flags_of(m->paths + poff, x->path_len, m->links + loff, ll);
            m->ctime_ns[i] = x->ctime_ns;
            m->file_id[i] = x->file_id;
            m->file_id_hi[i] = x->file_id_hi;
            if (x->volume != last_volume) {
                last_volume = x->volume;
                volume_id = bd_scan_volume_id(s, x->volume);
            }
            m->volume_id[i] = volume_id;
            fine |= x->mtime_ns % 1000000000LL || x->ctime_ns % 1000000000LL;
            poff += x->path_len;
            loff += ll;
        }
        r->fine[c] = (uint8_t)fine;
    }
    return BD_OK;
}

bd_status bd_mf_from_scan(const bd_scan *s, int64_t scan_start_ns, bd_mf **out, bd_error *e)
{
    size_t n = bd_scan_count(s), chunks = (n + ROWS_CHUNK - 1) / ROWS_CHUNK;
    const bd_scan_entry *en = bd_scan_entries(s);
    const uint32_t *order = bd_scan_sorted_order(s);
    const char *arena = bd_scan_arena(s);
    uint32_t *first = malloc((n ? n : 1) * sizeof *first);
    uint64_t *poff = malloc((2 * chunks + 1) * sizeof *poff);
    uint8_t *fine = malloc(chunks + 1);
    if (!first || !poff || !fine || find_hard_links(s, first) != 0) {
        free(first);
        free(poff);
        free(fine);
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "manifest", BD_PATH_AS_GIVEN, NULL);
    }
    uint64_t paths_len = 0, links_len = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % ROWS_CHUNK == 0) {
            poff[2 * (i / ROWS_CHUNK)] = paths_len;
            poff[2 * (i / ROWS_CHUNK) + 1] = links_len;
        }
        uint32_t ll;
        (void)link_of(en, order, arena, first, i, &ll);
        paths_len += sorted_entry(en, order, i)->path_len;
        links_len += ll;
    }
    bd_mf *m = NULL;
    /* Not zeroed: fill_rows writes every byte of both sections, on two threads, instead of a
       memset of them all on this one first (the sections of 100k entries are 17 MB). */
    bd_status rc = mf_alloc(n, paths_len, links_len, 1, 0, &m, e);
    if (rc == BD_OK) {
        memset(m->table + m->table_len, 0, (size_t)(m->cache - m->table) - m->table_len);  /* the gap */
        m->owners = bd_owners_recorded();
        /* Two threads at most: the table is written at memory speed, a third adds nothing. */
        scan_rows r = {s, first, m, poff, fine};
        rc = bd_parallel_for(chunks, 1, 2, fill_rows, &r, NULL, e);
    }
    if (rc == BD_OK) {
        int coarse = n > 0;
        for (size_t c = 0; c < chunks; c++)
            coarse &= !fine[c];
        m->path_off[n] = paths_len;
        m->link_off[n] = links_len;
        m->scan_start_ns = scan_start_ns;
        m->racy_window_ns = coarse ? BD_MF_RACY_COARSE_NS : BD_MF_RACY_FINE_NS;
        *out = m;
    } else {
        bd_mf_free(m);
    }
    free(first);
    free(poff);
    free(fine);
    return rc;
}

bd_status bd_mf_scan_tree(const char *root_path, unsigned threads, size_t expect_entries, size_t expect_bytes,
                          int64_t scan_start_ns, bd_progress *p, bd_mf **out, bd_error *e)
{
    bd_scan *s = NULL;
    bd_status rc = bd_scan_tree_gathered(root_path, threads, expect_entries, expect_bytes, p, &s, e);
    if (rc != BD_OK)
        return rc;
    rc = bd_mf_from_scan(s, scan_start_ns, out, e);
    bd_scan_free(s);
    return rc;
}

/* ---- merging by path --------------------------------------------------------------- */

static int cmp_entries(const bd_mf *a, size_t i, const bd_mf *b, size_t j)
{
    return path_cmp(a->paths + a->path_off[i], a->path_len[i], b->paths + b->path_off[j], b->path_len[j]);
}

/* Advances *i over a's entries before b's entry j; returns 1 when a's entry *i has its path. */
static int seek(const bd_mf *a, size_t *i, const bd_mf *b, size_t j)
{
    while (*i < a->n) {
        int c = cmp_entries(a, *i, b, j);
        if (c == 0)
            return 1;
        if (c > 0)
            return 0;
        (*i)++;
    }
    return 0;
}

/* cur's pairing with prev (bd_mf's pair), its rows not filled yet; NULL when either is a
 * delta or without memory (then every merge compares paths). */
static uint32_t *pairing(bd_mf *cur, const bd_mf *prev)
{
    cur->paired_with = 0;
    if (!prev || prev->delta || cur->delta)
        return NULL;
    if (!cur->pair)
        cur->pair = malloc((cur->n ? cur->n : 1) * sizeof *cur->pair);
    return cur->pair;
}

/* Whether m was paired with other by bd_mf_reuse. */
static int paired(const bd_mf *m, const bd_mf *other)
{
    return m->pair && m->paired_with == other->serial;
}

size_t bd_mf_reuse(bd_mf *cur, const bd_mf *prev, uint32_t *suspects)
{
    size_t k = 0, j = 0;
    int64_t cutoff = prev ? prev->scan_start_ns - prev->racy_window_ns : 0;
    int usable = prev && prev->cache && !prev->delta;
    uint32_t *pair = pairing(cur, prev);
    for (size_t i = 0; i < cur->n; i++) {
        int is_file = cur->kind[i] == BD_KIND_FILE && !cur->link_len[i];
        if (!pair && !is_file)
            continue;
        /* Every entry is sought when pairing, a plain file only otherwise. */
        int found = (pair || usable) && seek(prev, &j, cur, i);
        if (pair)
            pair[i] = found ? (uint32_t)j : BD_MF_NONE;
        if (!is_file)
            goto next;
        if (usable && found && prev->kind[j] == BD_KIND_FILE &&
            prev->size[j] == cur->size[i] && prev->mtime_ns[j] == cur->mtime_ns[i] &&
            prev->ctime_ns[j] == cur->ctime_ns[i] && prev->file_id[j] == cur->file_id[i] &&
            prev->file_id_hi[j] == cur->file_id_hi[i] && prev->volume_id[j] == cur->volume_id[i] &&
            prev->mtime_ns[j] < cutoff && prev->ctime_ns[j] < cutoff) {
            memcpy(cur->hash + 32 * i, prev->hash + 32 * j, BD_HASH_LEN);
            goto next;
        }
        suspects[k++] = (uint32_t)i;
    next:
        j += found;  /* paths are unique: prev's entry j pairs with no later entry */
    }
    if (pair)
        cur->paired_with = prev->serial;
    return k;
}

size_t bd_mf_reuse_copy(bd_mf *cur, const bd_mf *src, const uint8_t *vouched, uint32_t *suspects)
{
    size_t k = 0, j = 0;
    for (size_t i = 0; i < cur->n; i++) {
        if (cur->kind[i] != BD_KIND_FILE || cur->link_len[i])
            continue;
        /* Size and mtime tell a copied file from one written in the copy since: the copy
         * keeps the source's mtime, a later write does not. */
        if (!src->delta && seek(src, &j, cur, i) && src->kind[j] == BD_KIND_FILE && vouched[j] &&
            src->size[j] == cur->size[i] && src->mtime_ns[j] == cur->mtime_ns[i]) {
            memcpy(cur->hash + 32 * i, src->hash + 32 * j, BD_HASH_LEN);
            continue;
        }
        suspects[k++] = (uint32_t)i;
    }
    return k;
}

/* What a suspect's path is in prev, for bd_mf_diff_unneeded. */
enum { IN_PREV_NOT = 0, IN_PREV_SAME_SIZE = 1, IN_PREV_OTHER = 2, FIRST_OF_LINKS = 4 };

static int cmp_size(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int has_size(const uint64_t *sizes, size_t n, uint64_t size)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sizes[mid] == size)
            return 1;
        if (sizes[mid] < size)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

size_t bd_mf_diff_unneeded(const bd_mf *cur, const bd_mf *prev, uint32_t *idx, size_t k)
{
    if (!prev || prev->delta || cur->delta || !k)
        return k;
    uint8_t *state = calloc(cur->n, 1);
    uint64_t *gone = malloc((prev->n + 1) * sizeof *gone);  /* sizes of prev's files cur lacks */
    uint32_t *left = malloc(k * sizeof *left);
    size_t ngone = 0, kept = 0, nleft = 0, i = 0, j = 0;
    if (!state || !gone || !left) {
        free(state), free(gone), free(left);
        return k;
    }
    int by_pair = paired(cur, prev);
    while (i < cur->n || j < prev->n) {
        int c;
        if (by_pair) {  /* bd_mf_reuse paired the rows: no path is compared */
            uint32_t p = i < cur->n ? cur->pair[i] : BD_MF_NONE;
            c = p == BD_MF_NONE ? (i < cur->n ? -1 : 1) : j < p ? 1 : 0;
        } else {
            c = i == cur->n ? 1 : j == prev->n ? -1 : cmp_entries(cur, i, prev, j);
        }
        if (c < 0) {
            i++;
        } else if (c > 0) {
            if (prev->kind[j] == BD_KIND_FILE && prev->size[j])
                gone[ngone++] = prev->size[j];
            j++;
        } else {
            int same = prev->kind[j] == BD_KIND_FILE && cur->kind[i] == BD_KIND_FILE &&
                       prev->size[j] == cur->size[i];
            state[i] = same ? IN_PREV_SAME_SIZE : IN_PREV_OTHER;
            i++, j++;
        }
    }
    for (i = 0; i < cur->n; i++) {
        if (cur->kind[i] != BD_KIND_FILE || !cur->link_len[i])
            continue;
        size_t first = bd_mf_find(cur, cur->links + cur->link_off[i], cur->link_len[i]);
        if (first != NOT_FOUND)
            state[first] |= FIRST_OF_LINKS;
    }
    qsort(gone, ngone, sizeof *gone, cmp_size);
    for (size_t x = 0; x < k; x++) {
        uint32_t s = idx[x];
        uint8_t st = state[s];
        int known = !(st & FIRST_OF_LINKS) &&
                    ((st & 3) == IN_PREV_OTHER ||
                     ((st & 3) == IN_PREV_NOT && !(cur->size[s] && has_size(gone, ngone, cur->size[s]))));
        if (known)
            left[nleft++] = s;
        else
            idx[kept++] = s;
    }
    memcpy(idx + kept, left, nleft * sizeof *left);
    free(state), free(gone), free(left);
    return kept;
}

/* ---- hashing ----------------------------------------------------------------------- */

bd_status bd_mf_hash_files(bd_mf *m, bd_dir *root, const uint32_t *idx, size_t k,
                           bd_hash_job *jobs, unsigned threads, bd_progress *p, bd_error *e)
{
    for (size_t j = 0; j < k; j++) {
        memset(&jobs[j], 0, sizeof jobs[j]);
        jobs[j].path = m->paths + m->path_off[idx[j]];
        jobs[j].path_len = m->path_len[idx[j]];
    }
    bd_status rc = bd_hash_files(root, jobs, k, threads, p, e);
    for (size_t j = 0; j < k; j++) {
        if (jobs[j].status != BD_OK)
            continue;
        size_t i = idx[j];
        const bd_stat *st = &jobs[j].st;
        memcpy(m->hash + 32 * i, jobs[j].hash, BD_HASH_LEN);
        m->size[i] = st->size;
        m->mtime_ns[i] = st->mtime_ns;
        m->mode[i] = st->mode;
        m->attrs[i] = st->attrs & BD_MF_ATTRS_KEPT;
        if (m->owners) {
            m->uid[i] = st->uid;
            m->gid[i] = st->gid;
        }
        if (m->cache) {
            m->ctime_ns[i] = st->ctime_ns;
            m->file_id[i] = st->file_id;
            m->file_id_hi[i] = st->file_id_hi;
            m->volume_id[i] = st->volume_id;
        }
    }
    return rc;
}

void bd_mf_link_hashes(bd_mf *m)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->kind[i] != BD_KIND_FILE || !m->link_len[i])
            continue;
        size_t j = bd_mf_find(m, m->links + m->link_off[i], m->link_len[i]);
        if (j == NOT_FOUND || j >= i || m->kind[j] != BD_KIND_FILE)
            continue;
        memcpy(m->hash + 32 * i, m->hash + 32 * j, BD_HASH_LEN);
        m->size[i] = m->size[j];
        m->mtime_ns[i] = m->mtime_ns[j];
        m->mode[i] = m->mode[j];
        m->attrs[i] = m->attrs[j];
        m->uid[i] = m->uid[j];
        m->gid[i] = m->gid[j];
        if (m->cache) {
            m->ctime_ns[i] = m->ctime_ns[j];
            m->file_id[i] = m->file_id[j];
            m->file_id_hi[i] = m->file_id_hi[j];
            m->volume_id[i] = m->volume_id[j];
        }
    }
}

void bd_mf_root(const bd_mf *m, uint8_t out[BD_HASH_LEN])
{
    bd_blake3 h;
    uint8_t head[sizeof ROOT_DOMAIN + 8];
    uint64_t n = m->n;
    memcpy(head, ROOT_DOMAIN, sizeof ROOT_DOMAIN);  /* with its NUL */
    for (int b = 0; b < 8; b++)
        head[sizeof ROOT_DOMAIN + b] = (uint8_t)(n >> (8 * b));
    bd_blake3_init(&h);
    bd_blake3_update(&h, head, sizeof head);
    /* mode .. links: the owners and what is host-local (size, mtime, flags) are left out */
    bd_blake3_update(&h, m->table + COL_MODE * m->n, m->table_len - (COL_MODE + 1) * m->n);
    bd_blake3_finalize(&h, out, BD_HASH_LEN);
}

size_t bd_mf_find(const bd_mf *m, const char *path, size_t len)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = path_cmp(m->paths + m->path_off[mid], m->path_len[mid], path, len);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NOT_FOUND;
}

/* ---- diff -------------------------------------------------------------------------- */

static int link_equal(const bd_mf *a, size_t i, const bd_mf *b, size_t j)
{
    /* Most entries have no link: no call to compare nothing. */
    return a->link_len[i] == b->link_len[j] &&
           (!a->link_len[i] || memcmp(a->links + a->link_off[i], b->links + b->link_off[j], a->link_len[i]) == 0);
}

/* What changed from a's entry i to b's entry j (same path). */
static uint32_t changes_of(const bd_mf *a, size_t i, const bd_mf *b, size_t j)
{
    if (a->kind[i] != b->kind[j])
        return BD_MF_CH_TYPE;
    uint32_t what = 0;
    if (a->kind[i] == BD_KIND_FILE &&
        (a->size[i] != b->size[j] || memcmp(a->hash + 32 * i, b->hash + 32 * j, BD_HASH_LEN) != 0))
        what |= BD_MF_CH_MODIFIED;
    if (a->mode[i] != b->mode[j] || a->attrs[i] != b->attrs[j])
        what |= BD_MF_CH_MODE;
    if (!link_equal(a, i, b, j))
        what |= BD_MF_CH_LINK;
    if (a->owners && b->owners && (a->uid[i] != b->uid[j] || a->gid[i] != b->gid[j]))
        what |= BD_MF_CH_OWNER;
    return what;
}

static int push_change(bd_mf_change **out, size_t *count, size_t *cap, uint32_t oi, uint32_t ni, uint32_t what)
{
    if (*count == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        bd_mf_change *nb = realloc(*out, c * sizeof *nb);
        if (!nb)
            return 0;
        *out = nb, *cap = c;
    }
    (*out)[*count].old_index = oi;
    (*out)[*count].new_index = ni;
    (*out)[*count].what = what;
    (*count)++;
    return 1;
}

bd_status bd_mf_diff(const bd_mf *a, const bd_mf *b, bd_mf_change **out, size_t *count, bd_error *e)
{
    if (a->delta || b->delta)
        return bd_fail(e, BD_E_INVAL, 0, "manifest diff: a delta", BD_PATH_AS_GIVEN, NULL);
    bd_mf_change *ch = NULL;
    size_t nch = 0, cap = 0, i = 0, j = 0;
    int ok = 1;
    int by_pair = paired(b, a);
    while (ok && (i < a->n || j < b->n)) {
        int c;
        if (by_pair && j < b->n && b->pair[j] != BD_MF_NONE)  /* paired by bd_mf_reuse */
            c = i < b->pair[j] ? -1 : 0;
        else  /* only around an added entry, when paired */
            c = i == a->n ? 1 : j == b->n ? -1 : cmp_entries(a, i, b, j);
        if (c < 0) {
            ok = push_change(&ch, &nch, &cap, (uint32_t)i, BD_MF_NONE, BD_MF_CH_DELETED);
            i++;
        } else if (c > 0) {
            ok = push_change(&ch, &nch, &cap, BD_MF_NONE, (uint32_t)j, BD_MF_CH_ADDED);
            j++;
        } else {
            uint32_t what = changes_of(a, i, b, j);
            if (what)
                ok = push_change(&ch, &nch, &cap, (uint32_t)i, (uint32_t)j, what);
            i++, j++;
        }
    }
    if (!ok) {
        free(ch);
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "manifest diff", BD_PATH_AS_GIVEN, NULL);
    }
    *out = ch;
    *count = nch;
    return BD_OK;
}

void bd_mf_changes_free(bd_mf_change *changes)
{
    free(changes);
}

/* ---- delta and apply: rows picked from two manifests ------------------------------- */

enum { FROM_A = 0, FROM_B = 1, TOMBSTONE_A = 2 };

typedef struct row_ref {
    uint32_t index;
    uint32_t from;
} row_ref;

typedef struct row_plan {
    row_ref *refs;
    size_t n, paths_len, links_len;
} row_plan;

static void plan_add(row_plan *pl, const bd_mf *a, const bd_mf *b, uint32_t from, size_t index)
{
    const bd_mf *src = from == FROM_B ? b : a;
    pl->refs[pl->n].index = (uint32_t)index;
    pl->refs[pl->n].from = from;
    pl->n++;
    pl->paths_len += src->path_len[index];
    if (from != TOMBSTONE_A)
        pl->links_len += src->link_len[index];
}

/* Writes the planned rows into a new manifest. */
static bd_status plan_build(const row_plan *pl, const bd_mf *a, const bd_mf *b, int with_cache,
                            int delta, int owners, bd_mf **out, bd_error *e)
{
    bd_mf *m = NULL;
    bd_status rc = bd_mf_alloc(pl->n, pl->paths_len, pl->links_len, with_cache, &m, e);
    if (rc != BD_OK)
        return rc;
    m->delta = delta;
    m->owners = owners;
    uint64_t poff = 0, loff = 0;
    for (size_t r = 0; r < pl->n; r++) {
        const bd_mf *s = pl->refs[r].from == FROM_B ? b : a;
        size_t i = pl->refs[r].index;
        uint32_t pl_len = s->path_len[i];
        m->path_len[r] = pl_len;
        memcpy(m->paths + poff, s->paths + s->path_off[i], pl_len);
        poff += pl_len;
        if (pl->refs[r].from == TOMBSTONE_A) {
            m->flags[r] = flags_of(m->paths + poff - pl_len, pl_len, "", 0);
            continue;  /* kind 0 and every other field zero */
        }
        uint32_t ll = s->link_len[i];
        m->size[r] = s->size[i];
        m->mtime_ns[r] = s->mtime_ns[i];
        m->mode[r] = s->mode[i];
        m->attrs[r] = s->attrs[i];
        m->uid[r] = owners ? s->uid[i] : 0;
        m->gid[r] = owners ? s->gid[i] : 0;
        m->link_len[r] = ll;
        m->kind[r] = s->kind[i];
        memcpy(m->hash + 32 * r, s->hash + 32 * i, BD_HASH_LEN);
        memcpy(m->links + loff, s->links + s->link_off[i], ll);
        loff += ll;
        m->flags[r] = s->flags[i];
        if (with_cache) {
            m->ctime_ns[r] = s->ctime_ns[i];
            m->file_id[r] = s->file_id[i];
            m->file_id_hi[r] = s->file_id_hi[i];
            m->volume_id[r] = s->volume_id[i];
        }
    }
    bd_mf_index(m);
    *out = m;
    return BD_OK;
}

static int rows_equal(const bd_mf *a, size_t i, const bd_mf *b, size_t j)
{
    return a->kind[i] == b->kind[j] && a->mode[i] == b->mode[j] && a->attrs[i] == b->attrs[j] &&
           a->uid[i] == b->uid[j] && a->gid[i] == b->gid[j] &&
           a->size[i] == b->size[j] && a->mtime_ns[i] == b->mtime_ns[j] &&
           memcmp(a->hash + 32 * i, b->hash + 32 * j, BD_HASH_LEN) == 0 && link_equal(a, i, b, j);
}

static bd_status plan_start(row_plan *pl, size_t n, bd_error *e)
{
    memset(pl, 0, sizeof *pl);
    pl->refs = malloc((n ? n : 1) * sizeof *pl->refs);
    if (!pl->refs)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "manifest", BD_PATH_AS_GIVEN, NULL);
    return BD_OK;
}

bd_status bd_mf_delta(const bd_mf *base, const bd_mf *cur, bd_mf **out, bd_error *e)
{
    if (base->delta || cur->delta)
        return bd_fail(e, BD_E_INVAL, 0, "manifest delta: a delta", BD_PATH_AS_GIVEN, NULL);
    row_plan pl;
    bd_status rc = plan_start(&pl, base->n + cur->n, e);
    if (rc != BD_OK)
        return rc;
    size_t i = 0, j = 0;
    while (i < base->n || j < cur->n) {
        int c = i == base->n ? 1 : j == cur->n ? -1 : cmp_entries(base, i, cur, j);
        if (c < 0) {
            plan_add(&pl, base, cur, TOMBSTONE_A, i++);
        } else if (c > 0) {
            plan_add(&pl, base, cur, FROM_B, j++);
        } else {
            if (!rows_equal(base, i, cur, j))
                plan_add(&pl, base, cur, FROM_B, j);
            i++, j++;
        }
    }
    rc = plan_build(&pl, base, cur, cur->cache != NULL, 1, cur->owners, out, e);
    free(pl.refs);
    if (rc == BD_OK && cur->cache) {
        (*out)->scan_start_ns = cur->scan_start_ns;
        (*out)->racy_window_ns = cur->racy_window_ns;
    }
    return rc;
}

bd_status bd_mf_apply(const bd_mf *base, const bd_mf *delta, bd_mf **out, bd_error *e)
{
    if (base->delta || !delta->delta)
        return bd_fail(e, BD_E_INVAL, 0, "manifest apply: base must be full, delta a delta",
                       BD_PATH_AS_GIVEN, NULL);
    row_plan pl;
    bd_status rc = plan_start(&pl, base->n + delta->n, e);
    if (rc != BD_OK)
        return rc;
    size_t i = 0, j = 0;
    while (i < base->n || j < delta->n) {
        int c = i == base->n ? 1 : j == delta->n ? -1 : cmp_entries(base, i, delta, j);
        if (c < 0) {
            plan_add(&pl, base, delta, FROM_A, i++);
        } else if (c > 0) {
            if (delta->kind[j] == BD_MF_DELETED) {
                free(pl.refs);
                return bd_fail_n(e, BD_E_CORRUPT, 0, "delta deletes a path its base lacks",
                                 BD_PATH_AS_GIVEN, delta->paths + delta->path_off[j], delta->path_len[j]);
            }
            plan_add(&pl, base, delta, FROM_B, j++);
        } else {
            if (delta->kind[j] != BD_MF_DELETED)
                plan_add(&pl, base, delta, FROM_B, j);
            i++, j++;
        }
    }
    int with_cache = base->cache != NULL && delta->cache != NULL;
    /* The delta's writer knew the new state's owners: rows it left alone had them too. */
    rc = plan_build(&pl, base, delta, with_cache, 0, delta->owners, out, e);
    free(pl.refs);
    if (rc == BD_OK && with_cache) {
        (*out)->scan_start_ns = delta->scan_start_ns;
        (*out)->racy_window_ns = delta->racy_window_ns;
    }
    return rc;
}
