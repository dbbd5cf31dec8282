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

/* Sources are opened, and their first bytes asked for, this many files ahead of the one
 * hashed: when the store's pages are not cached (another program's reads pushed them out),
 * their reads overlap each other and the hashing, cloning and creating between them instead
 * of each file waiting for its own.  The kernel's readahead carries on past AHEAD_BYTES as
 * the hashing reads on. */
#define AHEAD_FILES 8
#define AHEAD_BYTES ((uint64_t)4 << 20)

/* One source opened ahead, or why it could not be (reported at its turn). */
typedef struct source {
    bd_status rc;
    bd_error e;
    bd_file *in;  /* NULL once taken (or when rc is not BD_OK) */
    bd_stat before;
} source;

typedef struct clones_job {
    bd_dir *src_root, *root;
    dir_chain src, dst;
    uint8_t *buf;  /* BD_READ_BLOCK bytes for hashing */
    bd_new_clone *files;
    size_t n;
    source *ahead;  /* AHEAD_FILES slots: file i in slot i % AHEAD_FILES */
    size_t opened;  /* files [0, opened) have been opened (and those not taken are in ahead) */
} clones_job;

/* Opens the sources of the files before upto not opened yet, each into its slot, and starts
 * the reads of their first bytes. */
static void open_ahead(clones_job *job, size_t upto)
{
    for (; job->opened < upto && job->opened < job->n; job->opened++) {
        const bd_new_clone *f = &job->files[job->opened];
        source *s = &job->ahead[job->opened % AHEAD_FILES];
        bd_dir *d;
        const char *name;
        size_t name_len;
        bd_error_clear(&s->e);
        s->in = NULL;
        s->rc = bd_chain_open_parent(&job->src, job->src_root, f->src, f->src_len, &d, &name, &name_len, &s->e);
        if (s->rc == BD_OK)
            s->rc = bd_file_open_read(d, name, name_len, &s->in, &s->before, &s->e);
        if (s->rc != BD_OK)
            bd_error_set_path(&s->e, BD_PATH_SRC, f->src, f->src_len);
        else
            bd_file_will_read(s->in, 0, s->before.size < AHEAD_BYTES ? s->before.size : AHEAD_BYTES);
    }
}

/* File i's source, opened (ahead) and hashed, or why not (its hash differing is BD_E_CORRUPT). */
static bd_status open_checked(clones_job *job, size_t i, bd_file **in, bd_stat *before, bd_error *e)
{
    const bd_new_clone *f = &job->files[i];
    open_ahead(job, i + AHEAD_FILES);
    source *s = &job->ahead[i % AHEAD_FILES];
    *in = s->in;
    *before = s->before;
    s->in = NULL;
    if (s->rc != BD_OK) {
        *e = s->e;
        return s->rc;
    }
    uint8_t got[BD_HASH_LEN];
    bd_status rc = bd_hash_open_file(*in, before, 1, job->buf, got, NULL, 0, e);
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

static bd_status clone_one(clones_job *job, size_t i, bd_error *e)
{
    bd_new_clone *f = &job->files[i];
    bd_file *in;
    bd_stat before;
    bd_status rc = open_checked(job, i, &in, &before, e);
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
    job.files = files;
    job.n = n;
    if (n && (!(job.buf = malloc(BD_READ_BLOCK)) || !(job.ahead = calloc(AHEAD_FILES, sizeof *job.ahead)))) {
        free(job.buf);
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    }
    bd_status rc = BD_OK, cannot = BD_OK;
    for (size_t i = 0; i < n && rc == BD_OK; i++) {
        bd_new_clone *f = &files[i];
        bd_error fe;
        bd_error_clear(&fe);
        bd_status got = cannot != BD_OK ? cannot : clone_one(&job, i, &fe);
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
    for (size_t i = 0; job.ahead && i < AHEAD_FILES; i++)
        bd_file_close(job.ahead[i].in);  /* opened ahead of a stop (cancel, or a volume that cannot clone) */
    free(job.ahead);
    bd_chain_free(&job.src);
    bd_chain_free(&job.dst);
    free(job.buf);
    return rc;
}
