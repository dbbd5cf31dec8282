/* write_files.c: many new small files under one root (bd_write.h). */
#include <string.h>

#include "bodega/bd_write.h"
#include "dir_chain.h"

static bd_status write_one(dir_chain *chain, bd_dir *root, const bd_new_file *f, bd_stat *after, bd_error *e)
{
    bd_dir *d;
    const char *name;
    size_t name_len;
    bd_status rc = bd_chain_open_parent(chain, root, f->path, f->path_len, &d, &name, &name_len, e);
    if (rc != BD_OK)
        return rc;
    bd_file *out;
    rc = bd_file_create_at(d, name, name_len, &out, e);
    if (rc != BD_OK)
        return rc;
    bd_stat st;
    memset(&st, 0, sizeof st);
    st.mode = f->mode;
    st.mtime_ns = f->mtime_ns;
    st.uid = f->uid;
    st.gid = f->gid;
    uint32_t which = BD_META_MODE | BD_META_TIMES | (f->owner ? BD_META_OWNER : 0);
    if (f->size)
        rc = bd_file_write(out, f->data, f->size, e);
    if (rc == BD_OK)
        rc = bd_file_set_meta(out, &st, which, e);
    if (rc == BD_OK && after)
        rc = bd_file_stat(out, after, e);
    bd_file_close(out);
    if (rc != BD_OK) {
        bd_error ignored;
        bd_error_clear(&ignored);
        bd_unlink_at(d, name, name_len, 0, &ignored);
    }
    return rc;
}

bd_status bd_files_write(bd_dir *root, const bd_new_file *files, size_t n, bd_stat *after, bd_progress *p,
                         size_t *done, bd_error *e)
{
    dir_chain chain;
    memset(&chain, 0, sizeof chain);
    bd_status rc = BD_OK;
    size_t i = 0;
    for (; i < n; i++) {
        rc = write_one(&chain, root, &files[i], after ? &after[i] : NULL, e);
        if (rc != BD_OK) {
            bd_error_set_path(e, BD_PATH_DST, files[i].path, files[i].path_len);
            break;
        }
        bd_progress_add(p, 1, files[i].size);
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
