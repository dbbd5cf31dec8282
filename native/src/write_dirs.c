/* write_dirs.c: the directories of a tree being written, created and then finished (bd_write.h). */
#include <string.h>

#include "bodega/bd_write.h"
#include "dir_chain.h"

static bd_status create_one(dir_chain *chain, bd_dir *root, const bd_new_dir *d, uint32_t mode, bd_error *e)
{
    bd_dir *parent;
    const char *name;
    size_t name_len;
    bd_status rc = bd_chain_open_parent(chain, root, d->path, d->path_len, &parent, &name, &name_len, e);
    if (rc == BD_OK)
        rc = bd_dir_create_at(parent, name, name_len, mode, e);
    return rc;
}

bd_status bd_dirs_create(bd_dir *root, const bd_new_dir *dirs, size_t n, uint32_t mode, bd_progress *p,
                         size_t *done, bd_error *e)
{
    dir_chain chain;
    memset(&chain, 0, sizeof chain);
    bd_status rc = BD_OK;
    size_t i = 0;
    for (; i < n; i++) {
        rc = create_one(&chain, root, &dirs[i], mode, e);
        if (rc != BD_OK) {
            bd_error_set_path(e, BD_PATH_DST, dirs[i].path, dirs[i].path_len);
            break;
        }
        bd_progress_add(p, 1, 0);
        rc = bd_progress_tick(p, 0, e);
        if (rc != BD_OK) {
            i++;
            break;
        }
    }
    bd_chain_free(&chain);
    *done = i;
    return rc;
}

static bd_status finish_one(dir_chain *chain, bd_dir *root, const bd_new_dir *d, bd_stat *after, bd_error *e)
{
    bd_dir *dir;
    bd_status rc = bd_chain_open_dir(chain, root, d->path, d->path_len, &dir, e);
    if (rc != BD_OK)
        return rc;
    bd_stat st;
    memset(&st, 0, sizeof st);
    st.kind = BD_KIND_DIR;
    st.mode = d->mode;
    st.mtime_ns = d->mtime_ns;
    st.uid = d->uid;
    st.gid = d->gid;
    rc = bd_dir_set_meta(dir, &st, BD_META_MODE | BD_META_TIMES | (d->owner ? BD_META_OWNER : 0), e);
    if (rc == BD_OK && after)
        rc = bd_dir_stat(dir, after, e);
    return rc;
}

bd_status bd_dirs_finish(bd_dir *root, const bd_new_dir *dirs, size_t n, bd_stat *after, bd_progress *p,
                         size_t *done, bd_error *e)
{
    dir_chain chain;
    memset(&chain, 0, sizeof chain);
    bd_status rc = BD_OK;
    size_t k = 0;
    for (; k < n; k++) {
        size_t i = n - 1 - k;
        rc = finish_one(&chain, root, &dirs[i], after ? &after[i] : NULL, e);
        if (rc != BD_OK) {
            bd_error_set_path(e, BD_PATH_DST, dirs[i].path, dirs[i].path_len);
            break;
        }
        bd_progress_add(p, 1, 0);
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
