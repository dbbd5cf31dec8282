/* name.c (Windows): UTF-8 names and paths to UTF-16 and back, and \\?\ paths of handles.
 *
 * The converters are written out rather than left to MultiByteToWideChar so that what is
 * rejected does not depend on the Windows (or Wine) build: overlong forms, code points past
 * U+10FFFF and truncated sequences are invalid.  Unpaired surrogates, which NTFS allows in
 * names, travel as WTF-8 (their 3-byte generalized UTF-8 form) so that every name a listing
 * returns can be opened again; a WTF-8 high surrogate directly followed by a low one is
 * refused, since that pair has a 4-byte form. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bd_win.h"

static int is_high(unsigned c) { return c >= 0xD800 && c <= 0xDBFF; }
static int is_low(unsigned c) { return c >= 0xDC00 && c <= 0xDFFF; }

/* Decodes one code point at s[*i]; returns it, or -1 when invalid. */
static long decode(const unsigned char *s, size_t n, size_t *i)
{
    unsigned c = s[*i];
    size_t need;
    unsigned long cp, min;
    if (c < 0x80) {
        *i += 1;
        return (long)c;
    } else if ((c & 0xE0) == 0xC0) {
        need = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        need = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        need = 3, cp = c & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (*i + need >= n)
        return -1;
    for (size_t k = 1; k <= need; k++) {
        unsigned cc = s[*i + k];
        if ((cc & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF)
        return -1;
    *i += need + 1;
    return (long)cp;
}

long bd_utf8_to_utf16(const char *str, size_t n, WCHAR *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, o = 0;
    int prev_high = 0;  /* the previous code point was an encoded lone high surrogate */
    while (i < n) {
        long cp = decode(s, n, &i);
        if (cp < 0)
            return -1;
        if (prev_high && is_low((unsigned)cp))
            return -1;
        prev_high = is_high((unsigned)cp);
        if (cp >= 0x10000) {
            if (o + 2 > cap)
                return -2;
            cp -= 0x10000;
            out[o++] = (WCHAR)(0xD800 + (cp >> 10));
            out[o++] = (WCHAR)(0xDC00 + (cp & 0x3FF));
        } else {
            if (o + 1 > cap)
                return -2;
            out[o++] = (WCHAR)cp;
        }
    }
    return (long)o;
}

long bd_utf16_to_utf8(const WCHAR *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned long cp = s[i];
        if (is_high((unsigned)cp) && i + 1 < n && is_low(s[i + 1])) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (s[i + 1] - 0xDC00u);
            i++;
        }
        size_t len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (o + len > cap)
            return -2;
        if (len == 1) {
            out[o++] = (char)cp;
        } else if (len == 2) {
            out[o++] = (char)(0xC0 | (cp >> 6));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else if (len == 3) {
            out[o++] = (char)(0xE0 | (cp >> 12));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | (cp >> 18));
            out[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return (long)o;
}

bd_status bd_win_name(const char *name, size_t len, bd_wname *out, bd_error *e)
{
    if (len == 0 || (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')
        || memchr(name, '/', len) || memchr(name, '\\', len) || memchr(name, ':', len)
        || memchr(name, '\0', len))
        return bd_fail_n(e, BD_E_INVAL, EINVAL, "name", BD_PATH_AS_GIVEN, name, len);
    long n = bd_utf8_to_utf16(name, len, out->buf, BD_WNAME_MAX);
    if (n == -1)
        return bd_fail_n(e, BD_E_INVAL, EILSEQ, "utf8-name", BD_PATH_AS_GIVEN, name, len);
    if (n < 0)
        return bd_fail_n(e, BD_E_IO, ENAMETOOLONG, "name", BD_PATH_AS_GIVEN, name, len);
    out->buf[n] = 0;
    out->len = (USHORT)n;
    return BD_OK;
}

WCHAR *bd_utf8_path_to_utf16(const char *path, size_t len)
{
    WCHAR *w = malloc((len + 1) * sizeof *w);  /* UTF-16 never needs more units than bytes */
    if (!w)
        return 0;
    long n = bd_utf8_to_utf16(path, len, w, len);
    if (n < 0) {
        free(w);
        return 0;
    }
    w[n] = 0;
    return w;
}

WCHAR *bd_win_handle_path(HANDLE h, const WCHAR *extra, size_t extra_len)
{
    DWORD need = GetFinalPathNameByHandleW(h, 0, 0, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    if (need == 0)
        return 0;
    size_t cap = need + 1 + extra_len + 1;
    WCHAR *w = malloc(cap * sizeof *w);
    if (!w) {
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
        return 0;
    }
    DWORD n = GetFinalPathNameByHandleW(h, w, need, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    if (n == 0 || n >= need) {
        free(w);
        if (n >= need)
            SetLastError(ERROR_BUFFER_OVERFLOW);
        return 0;
    }
    if (extra) {
        if (n > 0 && w[n - 1] != L'\\')
            w[n++] = L'\\';
        memcpy(w + n, extra, extra_len * sizeof *w);
        n += (DWORD)extra_len;
    }
    w[n] = 0;
    return w;
}
