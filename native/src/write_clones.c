/* write_clones.c: new files of a tree cloned from files checked against their hash (bd_write.h).
 *
 * Why the source is hashed and not the clone: the clone is a new inode whose pages are not in
 * the page cache, so hashing it reads every byte from the device, while the source (a store
 * object, read-only and never rewritten) is usually cached.  Both are the same bytes when the
 * clone is made from the very handle that was hashed and that file did not change in between
 * (its size, mtime and ctime taken again after the clone: a write or truncation changes them),
 * since a clone shares the data the file holds when it is made. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_write.h"
#include "dir_chain.h"
#include "file_read.h"
#include "hash_open.h"
#include "new_file.h"

typedef struct clones_job {
    bd_dir *src_root, *root;
    dir_chain src, dst;
    uint8_t *buf;  /* BD_READ_BLOCK bytes for hashing */
} clones_job;

/* The source opened and hashed, or why not (its hash differing is BD_E_CORRUPT). */
static bd_status open_checked(clones_job *job, const bd_new_clone *f, bd_file **in, bd_stat *before, bd_error *e)
{
    bd_dir *d;
    const char *name;
    size_t name_len;
    bd_status rc = bd_chain_open_parent(&job->src, job->src_root, f->src, f->src_len, &d, &name, &name_len, e);
    if (rc == BD_OK)
        rc = bd_file_open_read(d, name, name_len, in, before, e);
    if (rc != BD_OK) {
        bd_error_set_path(e, BD_PATH_SRC, f->src, f->src_len);
        return rc;
    }
    uint8_t got[BD_HASH_LEN];
    rc = bd_hash_open_file(*in, before, 1, job->buf, got, NULL, 0, e);
    if (rc == BD_OK && memcmp(got, f->hash, BD_HASH_LEN) != 0)
        rc = bd_fail_n(e, BD_E_CORRUPT, 0, "hash", BD_PATH_SRC, f->src, f->src_len);
    else if (rc != BD_OK)
        bd_error_set_path(e, BD_PATH_SRC, f->src, f->src_len);
    if (rc != BD_OK)
        bd_file_close(*in);
    return rc;
}

/* The clone of in at name in d, given its metadata; on failure nothing is left at name. */
static bd_status clone_at(bd_dir *d, const char *name, size_t name_len, bd_file *in, const bd_stat *before,
                          bd_new_clone *f, bd_error *e)
{
    bd_file *out;
    bd_status rc = bd_file_create_clone_at(d, name, name_len, f->mode & 0777, in, &out, e);
    if (rc != BD_OK)
        return rc;
    rc = bd_check_unchanged(in, before, e);  /* what was cloned is what was hashed */
    new_file_meta m = {f->mode, f->mtime_ns, f->owner, f->uid, f->gid};
    return new_file_finish(d, name, name_len, out, rc, &m, &f->st, e);
}

static bd_status clone_one(clones_job *job, bd_new_clone *f, bd_error *e)
{
    bd_file *in;
    bd_stat before;
    bd_status rc = open_checked(job, f, &in, &before, e);
    f->at_source = rc != BD_OK;
    if (rc != BD_OK)
        return rc;
    bd_dir *d;
    const char *name;
    size_t name_len;
    rc = bd_chain_open_parent(&job->dst, job->root, f->path, f->path_len, &d, &name, &name_len, e);
    if (rc == BD_OK)
        rc = clone_at(d, name, name_len, in, &before, f, e);
    if (rc != BD_OK)
        bd_error_set_path(e, BD_PATH_DST, f->path, f->path_len);
    bd_file_close(in);
    return rc;
}

bd_status bd_clones_write(bd_dir *src_root, bd_dir *root, bd_new_clone *files, size_t n, bd_progress *p,
                          bd_error *e)
{
    for (size_t i = 0; i < n; i++) {
        files[i].status = BD_E_CANCELLED;
        files[i].sys_errno = 0;
        files[i].op = "cancel";
        files[i].at_source = 0;
    }
    clones_job job;
    memset(&job, 0, sizeof job);
    job.src_root = src_root;
    job.root = root;
    if (n && !(job.buf = malloc(BD_READ_BLOCK)))
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    bd_status rc = BD_OK, cannot = BD_OK;
    for (size_t i = 0; i < n && rc == BD_OK; i++) {
        bd_new_clone *f = &files[i];
        bd_error fe;
        bd_error_clear(&fe);
        bd_status got = cannot != BD_OK ? cannot : clone_one(&job, f, &fe);
        if (got == BD_E_CANCELLED || got == BD_E_NOMEM) {
            *e = fe;
            rc = got;
            break;
        }
        if (got == BD_E_NOTSUP || got == BD_E_XDEV)
            cannot = got;  /* the volume cannot clone: the rest are not tried */
        f->status = got;
        f->sys_errno = got == BD_OK ? 0 : fe.sys_errno;
        f->op = got == BD_OK ? NULL : fe.op ? fe.op : "clone";
        bd_progress_add(p, 1, got == BD_OK ? f->st.size : 0);
        rc = bd_progress_tick(p, 0, e);
    }
    bd_chain_free(&job.src);
    bd_chain_free(&job.dst);
    free(job.buf);
    return rc;
}
