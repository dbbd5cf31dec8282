/* write_dirs.c: the directories of a tree being written, created and then finished (bd_write.h). */
#include <string.h>

#include "bodega/bd_write.h"
#include "dir_chain.h"

typedef struct dirs_job {
    bd_dir *root;
    const bd_new_dir *dirs;
    uint32_t mode;   /* create: the mode every directory is created with */
    bd_stat *after;  /* finish: where each stat goes, or NULL */
} dirs_job;

static bd_status create_one(void *ctx, dir_chain *chain, size_t i, uint64_t *bytes, bd_error *e)
{
    dirs_job *job = ctx;
    const bd_new_dir *d = &job->dirs[i];
    bd_dir *parent;
    const char *name;
    size_t name_len;
    (void)bytes;
    bd_status rc = bd_chain_open_parent(chain, job->root, d->path, d->path_len, &parent, &name, &name_len, e);
    if (rc == BD_OK)
        rc = bd_dir_create_at(parent, name, name_len, job->mode, e);
    if (rc != BD_OK)
        bd_error_set_path(e, BD_PATH_DST, d->path, d->path_len);
    return rc;
}

static bd_status finish_one(void *ctx, dir_chain *chain, size_t i, uint64_t *bytes, bd_error *e)
{
    dirs_job *job = ctx;
    const bd_new_dir *d = &job->dirs[i];
    bd_dir *dir;
    (void)bytes;
    bd_status rc = bd_chain_open_dir(chain, job->root, d->path, d->path_len, &dir, e);
    if (rc == BD_OK) {
        bd_stat st;
        memset(&st, 0, sizeof st);
        st.kind = BD_KIND_DIR;
        st.mode = d->mode;
        st.mtime_ns = d->mtime_ns;
        st.uid = d->uid;
        st.gid = d->gid;
        rc = bd_dir_set_meta(dir, &st, BD_META_MODE | BD_META_TIMES | (d->owner ? BD_META_OWNER : 0), e);
    }
    if (rc == BD_OK && job->after)
        rc = bd_dir_stat(dir, &job->after[i], e);
    if (rc != BD_OK)
        bd_error_set_path(e, BD_PATH_DST, d->path, d->path_len);
    return rc;
}

bd_status bd_dirs_create(bd_dir *root, const bd_new_dir *dirs, size_t n, uint32_t mode, bd_progress *p,
                         size_t *done, bd_error *e)
{
    dirs_job job = {root, dirs, mode, NULL};
    return bd_chain_each(n, 0, create_one, &job, p, done, e);
}

bd_status bd_dirs_finish(bd_dir *root, const bd_new_dir *dirs, size_t n, bd_stat *after, bd_progress *p,
                         size_t *done, bd_error *e)
{
    dirs_job job = {root, dirs, 0, after};
    return bd_chain_each(n, 1, finish_one, &job, p, done, e);
}
