/* remove_tree.c: a no-follow, depth-first removal with a bounded number of open handles.
 *
 * The path being emptied is a stack of frames (a name and, for the deepest MAX_OPEN ones,
 * an open handle).  Each round lists the top directory: non-directories are unlinked on
 * the spot, the first subdirectory found is pushed; a directory whose listing finds no
 * subdirectory is empty and is removed from its parent.  A frame whose handle was closed
 * to stay within MAX_OPEN is reopened from the nearest open ancestor, name by name.
 * A failure names the entry by its path from the caller's parent (BD_PATH_DST), not by the
 * single name the platform call knew, so the caller can say what could not be removed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_remove.h"

#define MAX_OPEN 64

typedef struct frame {
    bd_dir *h;         /* NULL when closed (or for the caller's parent, which we never own) */
    char *name;        /* name in the frame below */
    size_t len;
    int fixed;         /* its permissions were already widened once */
} frame;

typedef struct remover {
    frame *f;
    size_t n, cap;
    size_t open;       /* frames with a handle, the caller's parent excluded */
    bd_progress *p;
    char *sub;         /* the first subdirectory found by a listing */
    size_t sub_len;
    int wants_fix;     /* a removal in the listed directory was refused: EACCES/EPERM */
    bd_error e;
} remover;

static int denied(int err) { return err == EACCES || err == EPERM; }

/* Appends '/' (unless first) and s to buf of n bytes, within BD_ERR_PATH_MAX - 1 bytes. */
static size_t append(char *buf, size_t n, const char *s, size_t len, int *cut)
{
    if (n > 0) {
        if (n >= BD_ERR_PATH_MAX - 1) {
            *cut = 1;
            return n;
        }
        buf[n++] = '/';
    }
    if (len > BD_ERR_PATH_MAX - 1 - n) {
        len = BD_ERR_PATH_MAX - 1 - n;
        *cut = 1;
    }
    memcpy(buf + n, s, len);
    return n + len;
}

/* Rewrites e's path, a name in frame `depth`'s directory ("" for that directory itself),
 * as the path from the caller's parent: the frames' names, then that name. */
static void locate(const remover *r, size_t depth, bd_error *e)
{
    char *buf;
    size_t n = 0;
    int cut;
    if (e->code == BD_OK || !(buf = malloc(BD_ERR_PATH_MAX)))
        return;  /* out of memory: the name alone, then */
    cut = e->path_truncated;
    for (size_t i = 1; i <= depth; i++)
        n = append(buf, n, r->f[i].name, r->f[i].len, &cut);
    if (e->path[0])
        n = append(buf, n, e->path, strlen(e->path), &cut);
    bd_error_set_path(e, BD_PATH_DST, buf, n);
    e->path_truncated = cut;
    free(buf);
}

/* Hands a local error to the caller's record (the first failure wins there too). */
static bd_status pass_on(bd_error *e, const bd_error *local)
{
    if (e && e->code == BD_OK)
        *e = *local;
    return local->code;
}

/* Gives the owner rwx on `name` in d, so it can be entered and emptied. */
static bd_status make_writable(bd_dir *d, const char *name, size_t len, bd_error *e)
{
    bd_stat st;
    bd_status rc = bd_stat_at(d, name, len, &st, e);
    if (rc)
        return rc;
    st.mode |= 0700;
    st.attrs &= ~(uint32_t)1;  /* FILE_ATTRIBUTE_READONLY */
    return bd_meta_copy_at(d, name, len, d, name, len, &st, BD_META_MODE, e);
}

static bd_status push(remover *r, const char *name, size_t len, bd_error *e)
{
    if (r->n == r->cap) {
        size_t c = r->cap ? r->cap * 2 : 16;
        frame *nf = realloc(r->f, c * sizeof *nf);
        if (!nf)
            return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
        r->f = nf;
        r->cap = c;
    }
    frame *fr = &r->f[r->n];
    fr->name = malloc(len ? len : 1);
    if (!fr->name)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    memcpy(fr->name, name, len);
    fr->len = len;
    fr->h = 0;
    fr->fixed = 0;
    r->n++;
    return BD_OK;
}

static void close_frame(remover *r, size_t i)
{
    if (i > 0 && r->f[i].h) {
        bd_dir_close(r->f[i].h);
        r->f[i].h = 0;
        r->open--;
    }
}

/* Opens frame i (and any closed frame between it and the nearest open ancestor). */
static bd_status open_frame(remover *r, size_t i, bd_error *e)
{
    size_t j = i;
    while (!r->f[j].h)
        j--;
    for (j++; j <= i; j++) {
        bd_error local;
        bd_error_clear(&local);
        bd_status rc = bd_dir_open_at(r->f[j - 1].h, r->f[j].name, r->f[j].len, &r->f[j].h, &local);
        if (rc && denied(local.sys_errno) && !r->f[j].fixed) {
            r->f[j].fixed = 1;
            bd_error_clear(&local);
            if ((rc = make_writable(r->f[j - 1].h, r->f[j].name, r->f[j].len, &local)) == BD_OK)
                rc = bd_dir_open_at(r->f[j - 1].h, r->f[j].name, r->f[j].len, &r->f[j].h, &local);
        }
        if (rc) {
            locate(r, j - 1, &local);
            return pass_on(e, &local);
        }
        r->open++;
    }
    /* Stay within MAX_OPEN: close the shallowest open frame (it can be reopened). */
    for (size_t k = 1; r->open > MAX_OPEN && k < i; k++)
        close_frame(r, k);
    return BD_OK;
}

static int on_entry(void *ctx, const char *name, size_t len, const bd_stat *st)
{
    remover *r = ctx;
    frame *top = &r->f[r->n - 1];
    if (st->kind == BD_KIND_DIR) {
        if (!r->sub) {
            r->sub = malloc(len ? len : 1);
            if (!r->sub) {
                bd_fail(&r->e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
                return 1;
            }
            memcpy(r->sub, name, len);
            r->sub_len = len;
        }
        return 0;
    }
    bd_error local;
    bd_error_clear(&local);
    if (bd_unlink_at(top->h, name, len, 0, &local) != BD_OK && local.sys_errno != ENOENT) {
        if (denied(local.sys_errno) && !top->fixed) {
            r->wants_fix = 1;  /* widen the directory, then list again */
            return 1;
        }
        r->e = local;
        return 1;
    }
    bd_progress_add(r->p, 1, 0);
    return 0;
}

/* Lists the top frame: unlinks its non-directories, finds a subdirectory (r->sub). */
static bd_status empty_top(remover *r, bd_error *e)
{
    for (;;) {
        frame *top = &r->f[r->n - 1];
        r->wants_fix = 0;
        bd_error_clear(&r->e);
        bd_error listing;
        bd_error_clear(&listing);
        bd_status rc = bd_dir_list(top->h, on_entry, r, &listing);
        if (rc == BD_OK)
            return BD_OK;
        if (r->wants_fix || (denied(listing.sys_errno) && !top->fixed)) {
            top->fixed = 1;
            free(r->sub);
            r->sub = 0;
            if ((rc = open_frame(r, r->n - 2, e)) != BD_OK)
                return rc;
            bd_error_clear(&listing);
            if ((rc = make_writable(r->f[r->n - 2].h, top->name, top->len, &listing)) != BD_OK) {
                locate(r, r->n - 2, &listing);
                return pass_on(e, &listing);
            }
            continue;
        }
        bd_error *failed = r->e.code != BD_OK ? &r->e : &listing;
        locate(r, r->n - 1, failed);
        return pass_on(e, failed);
    }
}

bd_status bd_remove_tree(bd_dir *parent, const char *name, size_t name_len, bd_progress *p,
                         bd_error *e)
{
    bd_stat st;
    bd_error local;
    bd_error_clear(&local);
    bd_status rc = bd_stat_at(parent, name, name_len, &st, &local);
    if (rc == BD_OK && st.kind != BD_KIND_DIR) {
        rc = bd_unlink_at(parent, name, name_len, 0, &local);
        if (rc == BD_OK)
            bd_progress_add(p, 1, 0);
    }
    if (rc != BD_OK || st.kind != BD_KIND_DIR) {
        bd_error_set_path(&local, BD_PATH_DST, name, name_len);
        return rc == BD_OK ? rc : pass_on(e, &local);
    }
    remover r;
    memset(&r, 0, sizeof r);
    r.p = p;
    if ((rc = push(&r, "", 0, e)) != BD_OK || (rc = push(&r, name, name_len, e)) != BD_OK)
        goto out;
    r.f[0].h = parent;
    while (rc == BD_OK && r.n > 1) {
        size_t top = r.n - 1;
        if ((rc = bd_progress_tick(p, 0, e)) != BD_OK)
            break;
        if (!r.f[top].h && (rc = open_frame(&r, top, e)) != BD_OK)
            break;
        if ((rc = empty_top(&r, e)) != BD_OK)
            break;
        if (r.sub) {
            rc = push(&r, r.sub, r.sub_len, e);
            free(r.sub);
            r.sub = 0;
            continue;
        }
        /* Empty: close it and remove it from its parent. */
        close_frame(&r, top);
        if (!r.f[top - 1].h && (rc = open_frame(&r, top - 1, e)) != BD_OK)
            break;
        bd_error_clear(&local);
        rc = bd_unlink_at(r.f[top - 1].h, r.f[top].name, r.f[top].len, 1, &local);
        if (rc == BD_OK || local.sys_errno == ENOENT) {
            rc = BD_OK;
            bd_progress_add(p, 1, 0);
            free(r.f[top].name);
            r.n--;
        } else if (local.sys_errno != ENOTEMPTY && local.sys_errno != EEXIST) {
            locate(&r, top - 1, &local);
            pass_on(e, &local);
        } else {
            rc = BD_OK;  /* entries were created meanwhile: list it again */
        }
    }
out:
    for (size_t i = 1; i < r.n; i++) {
        close_frame(&r, i);
        free(r.f[i].name);
    }
    if (r.n > 0)
        free(r.f[0].name);
    free(r.sub);
    free(r.f);
    return rc;
}
