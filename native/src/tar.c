/* tar.c: tar headers read from a buffer of the stream (bd_tar.h).
 *
 * What a header means follows what Python's tarfile reads (the reader bodega used before):
 * the ustar prefix joins the name for POSIX ustar headers; GNU 'L'/'K' and pax 'x' headers
 * name the next member, pax 'g' headers every later one; data follows regular files and
 * types tar does not know (which the caller refuses), never links, directories or devices.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_tar.h"

#define BLOCK 512u
#define EXT_MAX ((uint64_t)16 << 20)  /* an extended header (pax, long name) above this is refused */

static bd_status corrupt(bd_error *e, const char *why, const char *name, size_t name_len)
{
    return bd_fail_n(e, BD_E_CORRUPT, 0, why, BD_PATH_AS_GIVEN, name ? name : "", name ? name_len : 0);
}

static bd_status no_memory(bd_error *e)
{
    return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
}

/* Bytes of a field up to its first NUL. */
static size_t field_len(const unsigned char *f, size_t n)
{
    const unsigned char *z = memchr(f, 0, n);
    return z ? (size_t)(z - f) : n;
}

static uint64_t padded(uint64_t n)
{
    return (n + BLOCK - 1) / BLOCK * BLOCK;
}

/* A numeric field: base-256 when its first byte is 0x80 or 0xff (0xff: negative), else
 * octal digits between spaces, cut at the first NUL (empty: 0).  0 when it is malformed. */
static int number(const unsigned char *f, size_t n, int64_t *out)
{
    if (f[0] == 0x80 || f[0] == 0xff) {
        uint64_t fill = f[0] == 0xff ? ~(uint64_t)0 : 0, v = fill;
        for (size_t i = 1; i < n; i++) {
            if (i + 8 < n && f[i] != (unsigned char)(fill & 0xff))
                return 0;  /* more than 64 bits */
            v = (v << 8) | f[i];
        }
        if ((fill != 0) != ((v >> 63) != 0))
            return 0;
        *out = (int64_t)v;
        return 1;
    }
    size_t end = field_len(f, n), i = 0;
    while (i < end && (f[i] == ' ' || f[i] == '\t'))
        i++;
    while (end > i && (f[end - 1] == ' ' || f[end - 1] == '\t'))
        end--;
    uint64_t v = 0;
    for (; i < end; i++) {
        if (f[i] < '0' || f[i] > '7' || v >> 60)
            return 0;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return 0;
    *out = (int64_t)v;
    return 1;
}

/* The header checksum holds with the unsigned or the signed byte sum (old tars used signed). */
static int checksum_ok(const unsigned char *h)
{
    int64_t want;
    if (!number(h + 148, 8, &want))
        return 0;
    int64_t u = 256, s = 256;  /* the checksum field counts as eight spaces */
    for (size_t i = 0; i < BLOCK; i++) {
        if (i >= 148 && i < 156)
            continue;
        u += h[i];
        s += (signed char)h[i];
    }
    return want == u || want == s;
}

static int all_zero(const unsigned char *h)
{
    for (size_t i = 0; i < BLOCK; i++)
        if (h[i])
            return 0;
    return 1;
}

/* Keeps a copy of (p, n) in *slot. */
static bd_status keep(char **slot, size_t *slot_len, const void *p, size_t n, bd_error *e)
{
    char *copy = malloc(n ? n : 1);
    if (!copy)
        return no_memory(e);
    memcpy(copy, p, n);
    free(*slot);
    *slot = copy;
    *slot_len = n;
    return BD_OK;
}

/* A pax decimal: digits, for mtime with a sign and a fraction (kept to nanoseconds). */
static int pax_decimal(const char *v, size_t n, int fraction, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (fraction && i < n && v[i] == '-') {
        neg = 1;
        i++;
    }
    if (i == n)
        return 0;
    uint64_t whole = 0, ns = 0;
    size_t digits = 0;
    for (; i < n && v[i] != '.'; i++, digits++) {
        if (v[i] < '0' || v[i] > '9' || whole > (uint64_t)INT64_MAX / 10)
            return 0;
        whole = whole * 10 + (uint64_t)(v[i] - '0');
    }
    if (i < n) {
        if (!fraction)
            return 0;
        uint64_t scale = 100000000;
        for (i++; i < n; i++) {
            if (v[i] < '0' || v[i] > '9')
                return 0;
            ns += (uint64_t)(v[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (!digits)
        return 0;
    if (fraction) {
        if (whole > (uint64_t)INT64_MAX / 1000000000 - 1)
            return 0;
        int64_t t = (int64_t)(whole * 1000000000 + ns);
        *out = neg ? -t : t;
    } else {
        *out = (int64_t)whole;
    }
    return 1;
}

/* The records of a pax header ("<len> <key>=<value>\n"), applied to the next member
 * (global: to every later member). */
static bd_status pax_apply(bd_tar *t, const unsigned char *p, size_t n, int global, bd_error *e)
{
    size_t pos = 0;
    while (pos < n && p[pos] != 0) {
        size_t len = 0, i = pos;
        while (i < n && p[i] >= '0' && p[i] <= '9' && len < n)
            len = len * 10 + (size_t)(p[i++] - '0');
        if (i == pos || i >= n || p[i] != ' ' || len <= i - pos + 1 || len > n - pos || p[pos + len - 1] != '\n')
            return corrupt(e, "invalid pax header", 0, 0);
        const char *key = (const char *)p + i + 1, *end = (const char *)p + pos + len - 1;
        const char *eq = memchr(key, '=', (size_t)(end - key));
        if (!eq)
            return corrupt(e, "invalid pax header", 0, 0);
        size_t klen = (size_t)(eq - key), vlen = (size_t)(end - eq - 1);
        const char *v = eq + 1;
        bd_status rc = BD_OK;
        int64_t num;
        if (klen == 4 && memcmp(key, "path", 4) == 0) {
            rc = global ? keep(&t->global_name, &t->global_name_len, v, vlen, e)
                        : keep(&t->next_name, &t->next_name_len, v, vlen, e);
            *(global ? &t->has_global_name : &t->has_name) = 1;
        } else if (klen == 8 && memcmp(key, "linkpath", 8) == 0) {
            rc = global ? keep(&t->global_link, &t->global_link_len, v, vlen, e)
                        : keep(&t->next_link, &t->next_link_len, v, vlen, e);
            *(global ? &t->has_global_link : &t->has_link) = 1;
        } else if (klen == 4 && memcmp(key, "size", 4) == 0) {
            if (!pax_decimal(v, vlen, 0, &num))
                return corrupt(e, "invalid pax size", 0, 0);
            *(global ? &t->global_size : &t->next_size) = (uint64_t)num;
            *(global ? &t->has_global_size : &t->has_size) = 1;
        } else if (klen == 5 && memcmp(key, "mtime", 5) == 0) {
            if (!pax_decimal(v, vlen, 1, &num))
                return corrupt(e, "invalid pax mtime", 0, 0);
            *(global ? &t->global_mtime_ns : &t->next_mtime_ns) = num;
            *(global ? &t->has_global_mtime : &t->has_mtime) = 1;
        } else if (klen > 11 && memcmp(key, "GNU.sparse.", 11) == 0) {
            return corrupt(e, "a GNU sparse file, which bodega does not unpack", 0, 0);
        }
        if (rc != BD_OK)
            return rc;
        pos += len;
    }
    return BD_OK;
}

/* Appends (p, n) to the names of this call; *off gets where. */
static bd_status name_add(bd_tar *t, const void *p, size_t n, size_t *off, bd_error *e)
{
    if (t->names_cap - t->names_len < n) {
        size_t cap = t->names_cap ? t->names_cap : 4096;
        while (cap - t->names_len < n)
            cap *= 2;
        char *names = realloc(t->names, cap);
        if (!names)
            return no_memory(e);
        t->names = names;
        t->names_cap = cap;
    }
    memcpy(t->names + t->names_len, p, n);
    *off = t->names_len;
    t->names_len += n;
    return BD_OK;
}

static void next_clear(bd_tar *t)
{
    t->has_name = t->has_link = t->has_size = t->has_mtime = 0;
}

/* Types whose data follows the header: regular files and any type tar does not know. */
static int carries_data(char type)
{
    return type == '0' || !strchr("1234567LKS", type);
}

/* Fills m from header h (its extended headers applied); names go to t->names. */
static bd_status member(bd_tar *t, const unsigned char *h, bd_tar_member *m, bd_error *e)
{
    size_t name_len = field_len(h, 100);
    char type = (char)h[156];
    if (type == '\0' && name_len && h[name_len - 1] == '/')
        type = '5';  /* an old (V7) tar's directory */
    else if (type == '\0' || type == '7')
        type = '0';
    bd_status rc;
    if (t->has_name || t->has_global_name) {
        rc = t->has_name ? name_add(t, t->next_name, t->next_name_len, &m->name_off, e)
                         : name_add(t, t->global_name, t->global_name_len, &m->name_off, e);
        m->name_len = t->has_name ? t->next_name_len : t->global_name_len;
    } else {
        size_t prefix_len = field_len(h + 345, 155);
        int ustar = memcmp(h + 257, "ustar\0", 6) == 0;
        if (ustar && prefix_len && type != 'S') {
            size_t at;
            rc = name_add(t, h + 345, prefix_len, &m->name_off, e);
            if (rc == BD_OK)
                rc = name_add(t, "/", 1, &at, e);
            if (rc == BD_OK)
                rc = name_add(t, h, name_len, &at, e);
            m->name_len = prefix_len + 1 + name_len;
        } else {
            rc = name_add(t, h, name_len, &m->name_off, e);
            m->name_len = name_len;
        }
    }
    if (rc != BD_OK)
        return rc;
    const char *name = t->names + m->name_off;
    if (type == 'S')
        return corrupt(e, "a GNU sparse file, which bodega does not unpack", name, m->name_len);
    if (t->has_link || t->has_global_link) {
        rc = t->has_link ? name_add(t, t->next_link, t->next_link_len, &m->link_off, e)
                         : name_add(t, t->global_link, t->global_link_len, &m->link_off, e);
        m->link_len = t->has_link ? t->next_link_len : t->global_link_len;
    } else {
        m->link_len = field_len(h + 157, 100);
        rc = name_add(t, h + 157, m->link_len, &m->link_off, e);
    }
    if (rc != BD_OK)
        return rc;
    name = t->names + m->name_off;
    int64_t mode, mtime, size;
    if (!number(h + 100, 8, &mode) || !number(h + 136, 12, &mtime) || !number(h + 124, 12, &size) || size < 0
        || mode < 0 || mode > 0xffffffffLL)
        return corrupt(e, "invalid header", name, m->name_len);
    m->type = type;
    m->mode = (uint32_t)mode;
    if (t->has_mtime || t->has_global_mtime)
        m->mtime_ns = t->has_mtime ? t->next_mtime_ns : t->global_mtime_ns;
    else if (mtime > INT64_MAX / 1000000000 || mtime < INT64_MIN / 1000000000)
        return corrupt(e, "invalid header", name, m->name_len);
    else
        m->mtime_ns = mtime * 1000000000;
    uint64_t declared = t->has_size ? t->next_size : t->has_global_size ? t->global_size : (uint64_t)size;
    m->size = carries_data(type) ? declared : 0;
    return BD_OK;
}

static bd_status tar_read(bd_tar *t, const unsigned char *buf, size_t len, int eof, size_t max_whole,
                          bd_tar_member *out, size_t cap, size_t *count, size_t *used, size_t *need,
                          bd_error *e);

bd_status bd_tar_read(bd_tar *t, const unsigned char *buf, size_t len, int eof, size_t max_whole,
                      bd_tar_member *out, size_t cap, size_t *count, size_t *used, size_t *need,
                      bd_error *e)
{
    bd_status rc = tar_read(t, buf, len, eof, max_whole, out, cap, count, used, need, e);
    if (rc != BD_OK && *count > 0) {
        /* The members before the damage first: the next call, starting at the damaged
         * header, reports it (so the caller can say what came before). */
        bd_error_clear(e);
        *need = 0;
        return BD_OK;
    }
    return rc;
}

/* bd_tar_read; on failure *count and *used still say what was read whole before it. */
static bd_status tar_read(bd_tar *t, const unsigned char *buf, size_t len, int eof, size_t max_whole,
                          bd_tar_member *out, size_t cap, size_t *count, size_t *used, size_t *need,
                          bd_error *e)
{
    size_t pos = 0, n = 0, more = 0;
    t->names_len = 0;
    *count = 0;
    *used = 0;
    *need = 0;
    while (n < cap && !t->ended) {
        *count = n;  /* what a failure below leaves read whole */
        *used = pos;
        size_t left = len - pos;
        if (left < BLOCK) {
            if (!eof) {
                more = BLOCK;
                break;
            }
            if (left)
                return corrupt(e, "unexpected end of data", 0, 0);
            t->ended = 1;  /* no end blocks: the archive ends at a member's end all the same */
            break;
        }
        const unsigned char *h = buf + pos;
        if (all_zero(h)) {
            t->ended = 1;
            pos += BLOCK;
            break;
        }
        if (!checksum_ok(h))
            return corrupt(e, "bad checksum", 0, 0);
        char type = (char)h[156];
        if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
            int64_t size;
            if (!number(h + 124, 12, &size) || size < 0)
                return corrupt(e, "invalid header", 0, 0);
            if ((uint64_t)size > EXT_MAX)
                return corrupt(e, "an extended header larger than 16 MiB", 0, 0);
            size_t whole = BLOCK + (size_t)padded((uint64_t)size);
            if (left < whole) {
                if (eof)
                    return corrupt(e, "unexpected end of data", 0, 0);
                more = whole;
                break;
            }
            const unsigned char *data = h + BLOCK;
            bd_status rc;
            if (type == 'L' || type == 'K') {
                size_t l = field_len(data, (size_t)size);
                rc = type == 'L' ? keep(&t->next_name, &t->next_name_len, data, l, e)
                                 : keep(&t->next_link, &t->next_link_len, data, l, e);
                *(type == 'L' ? &t->has_name : &t->has_link) = 1;
            } else {
                rc = pax_apply(t, data, (size_t)size, type == 'g', e);
            }
            if (rc != BD_OK)
                return rc;
            pos += whole;
            t->offset += whole;
            continue;
        }
        bd_tar_member m;
        bd_status rc = member(t, h, &m, e);
        if (rc != BD_OK)
            return rc;
        m.data_off = pos + BLOCK;
        if (m.size <= max_whole) {
            size_t whole = BLOCK + (size_t)padded(m.size);
            if (left < whole) {
                if (eof)
                    return corrupt(e, "unexpected end of data", t->names + m.name_off, m.name_len);
                t->names_len = m.name_off;  /* read again, with its data, next call */
                more = whole;
                break;
            }
            m.data_whole = 1;
            out[n++] = m;
            next_clear(t);
            pos += whole;
            t->offset += whole;
            continue;
        }
        m.data_whole = 0;  /* the caller streams size bytes and their padding */
        out[n++] = m;
        next_clear(t);
        pos += BLOCK;
        t->offset += BLOCK + padded(m.size);
        break;
    }
    *count = n;
    *used = pos;
    *need = more;
    return BD_OK;
}

void bd_tar_free(bd_tar *t)
{
    free(t->names);
    free(t->next_name);
    free(t->next_link);
    free(t->global_name);
    free(t->global_link);
    memset(t, 0, sizeof *t);
}
