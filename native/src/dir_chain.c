/* dir_chain.c: many relative paths under one root, opened without following links. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dir_chain.h"

static void chain_cut(dir_chain *c, size_t depth)
{
    while (c->depth > depth)
        bd_dir_close(c->dirs[--c->depth]);
}

void bd_chain_free(dir_chain *c)
{
    chain_cut(c, 0);
    free(c->dirs);
    free(c->ends);
    free(c->prefix);
}

static bd_status chain_grow(dir_chain *c, size_t dir_len, bd_error *e)
{
    if (c->depth == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        bd_dir **dirs = realloc(c->dirs, cap * sizeof *dirs);
        if (dirs)
            c->dirs = dirs;
        size_t *ends = dirs ? realloc(c->ends, cap * sizeof *ends) : 0;
        if (!ends)
            return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
        c->ends = ends;
        c->cap = cap;
    }
    if (dir_len > c->prefix_cap) {
        char *prefix = realloc(c->prefix, dir_len);
        if (!prefix)
            return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
        c->prefix = prefix;
        c->prefix_cap = dir_len;
    }
    return BD_OK;
}

/* The open directory for path[0 .. dir_len) (dir_len 0: the root), reusing the chain's
 * common leading directories and opening the rest one component at a time, no follow. */
static bd_status chain_enter(dir_chain *c, bd_dir *root, const char *path, size_t dir_len, bd_dir **out,
                             bd_error *e)
{
    size_t keep = 0;
    while (keep < c->depth && c->ends[keep] <= dir_len && memcmp(c->prefix, path, c->ends[keep]) == 0
           && (c->ends[keep] == dir_len || path[c->ends[keep]] == '/'))
        keep++;
    chain_cut(c, keep);
    size_t pos = keep ? c->ends[keep - 1] + 1 : 0;
    while (dir_len > 0 && pos <= dir_len) {
        const char *slash = memchr(path + pos, '/', dir_len - pos);
        size_t end = slash ? (size_t)(slash - path) : dir_len;
        bd_dir *parent = c->depth ? c->dirs[c->depth - 1] : root;
        bd_dir *d;
        bd_status rc = chain_grow(c, dir_len, e);
        if (rc == BD_OK)
            rc = bd_dir_open_at(parent, path + pos, end - pos, &d, e);
        if (rc != BD_OK)
            return rc;
        memcpy(c->prefix, path, end);
        c->dirs[c->depth] = d;
        c->ends[c->depth] = end;
        c->depth++;
        pos = end + 1;
    }
    *out = c->depth ? c->dirs[c->depth - 1] : root;
    return BD_OK;
}

/* 1 when every component of path is a real name (not empty, ".", ".."). */
static int path_ok(const char *path, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        size_t n = i - start;
        if (n == 0 || (n == 1 && path[start] == '.') || (n == 2 && path[start] == '.' && path[start + 1] == '.'))
            return 0;
        start = i + 1;
    }
    return 1;
}

bd_status bd_chain_open_parent(dir_chain *c, bd_dir *root, const char *path, size_t path_len, bd_dir **dir,
                               const char **name, size_t *name_len, bd_error *e)
{
    if (!path_ok(path, path_len))
        return bd_fail(e, BD_E_INVAL, EINVAL, "path", BD_PATH_AS_GIVEN, 0);
    const char *slash = 0;
    for (size_t k = path_len; k > 0; k--)
        if (path[k - 1] == '/') {
            slash = path + k - 1;
            break;
        }
    size_t dir_len = slash ? (size_t)(slash - path) : 0;
    *name = slash ? slash + 1 : path;
    *name_len = path_len - (size_t)(*name - path);
    return chain_enter(c, root, path, dir_len, dir, e);
}


bd_status bd_chain_open_dir(dir_chain *c, bd_dir *root, const char *path, size_t path_len, bd_dir **dir,
                            bd_error *e)
{
    if (!path_ok(path, path_len))
        return bd_fail(e, BD_E_INVAL, EINVAL, "path", BD_PATH_AS_GIVEN, 0);
    return chain_enter(c, root, path, path_len, dir, e);
}

bd_status bd_chain_each(size_t n, int reverse, bd_chain_step step, void *ctx, bd_progress *p, size_t *done,
                        bd_error *e)
{
    dir_chain chain;
    memset(&chain, 0, sizeof chain);
    bd_status rc = BD_OK;
    size_t k = 0;
    for (; k < n; k++) {
        uint64_t bytes = 0;
        rc = step(ctx, &chain, reverse ? n - 1 - k : k, &bytes, e);
        if (rc != BD_OK)
            break;
        bd_progress_add(p, 1, bytes);
        rc = bd_progress_tick(p, 0, e);
        if (rc != BD_OK) {
            k++;
            break;
        }
    }
    bd_chain_free(&chain);
    *done = k;
    return rc;
}
