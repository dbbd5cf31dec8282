/* write_files.c: many new small files under one root (bd_write.h). */
#include "bodega/bd_file.h"
#include "bodega/bd_write.h"
#include "dir_chain.h"
#include "new_file.h"

/* Creates name in d with f's data and metadata; on failure nothing is left at name. */
static bd_status write_at(bd_dir *d, const char *name, size_t name_len, const bd_new_file *f, bd_stat *after,
                          bd_error *e)
{
    bd_file *out;
    /* Created with its permission bits (the umask applied, no set-id bits): most files then
     * need no chmod (and it never has wider bits than it ends with). */
    bd_status rc = bd_file_create_mode_at(d, name, name_len, f->mode & 0777, &out, e);
    if (rc != BD_OK)
        return rc;
    if (f->size)
        rc = bd_file_write(out, f->data, f->size, e);
    new_file_meta m = {f->mode, f->mtime_ns, f->owner, f->uid, f->gid};
    return new_file_finish(d, name, name_len, out, rc, &m, after, e);
}

typedef struct files_job {
    bd_dir *root;
    const bd_new_file *files;
    bd_stat *after;
} files_job;

static bd_status write_one(void *ctx, dir_chain *chain, size_t i, uint64_t *bytes, bd_error *e)
{
    files_job *job = ctx;
    const bd_new_file *f = &job->files[i];
    bd_dir *d;
    const char *name;
    size_t name_len;
    bd_status rc = bd_chain_open_parent(chain, job->root, f->path, f->path_len, &d, &name, &name_len, e);
    if (rc == BD_OK)
        rc = write_at(d, name, name_len, f, job->after ? &job->after[i] : NULL, e);
    if (rc != BD_OK)
        bd_error_set_path(e, BD_PATH_DST, f->path, f->path_len);
    *bytes = f->size;
    return rc;
}

bd_status bd_files_write(bd_dir *root, const bd_new_file *files, size_t n, bd_stat *after, bd_progress *p,
                         size_t *done, bd_error *e)
{
    files_job job = {root, files, after};
    return bd_chain_each(n, 0, write_one, &job, p, done, e);
}
