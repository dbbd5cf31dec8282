/* clone_files.c: many files under one root cloned into one directory (a store's objects). */
#include <errno.h>
#include <stdlib.h>

#include "bodega/bd_clone.h"
#include "dir_chain.h"
#include "parallel.h"

#define CLAIM_RUN 16  /* jobs a worker takes at once: neighbours share directories */

typedef struct batch {
    bd_dir *root, *dst;
    bd_clone_job *jobs;
    dir_chain *chains;  /* one per worker */
    bd_progress *p;
} batch;

static bd_status clone_one(batch *b, dir_chain *chain, bd_clone_job *job, bd_error *fe)
{
    bd_dir *dir;
    const char *name;
    size_t name_len;
    bd_copy_result r;
    bd_status rc = bd_chain_open_parent(chain, b->root, job->path, job->path_len, &dir, &name, &name_len, fe);
    if (rc == BD_OK)
        rc = bd_file_clone_at(dir, name, name_len, b->dst, job->dst_name, job->dst_len,
                              BD_CLONE_REQUIRE | BD_CLONE_READ_SOON, 0, &r, fe);
    if (rc != BD_OK)
        return rc;
    rc = bd_stat_at(dir, name, name_len, &job->st, fe);
    if (rc != BD_OK)
        bd_unlink_at(b->dst, job->dst_name, job->dst_len, 0, 0);
    return rc;
}

static bd_status clone_run(void *ctx, unsigned w, size_t start, size_t end, bd_error *e)
{
    batch *b = ctx;
    for (size_t i = start; i < end; i++) {
        bd_clone_job *job = &b->jobs[i];
        bd_error fe;
        bd_error_clear(&fe);
        bd_status rc = clone_one(b, &b->chains[w], job, &fe);
        bd_progress_add(b->p, 1, rc == BD_OK ? job->st.size : 0);
        if (rc == BD_E_CANCELLED || rc == BD_E_NOMEM) {
            *e = fe;
            return rc;
        }
        job->status = rc;
        job->sys_errno = rc == BD_OK ? 0 : fe.sys_errno;
        job->op = rc == BD_OK ? 0 : fe.op;
    }
    return BD_OK;
}

bd_status bd_clone_files(bd_dir *src_root, bd_dir *dst, bd_clone_job *jobs, size_t n, unsigned threads,
                         bd_progress *p, bd_error *e)
{
    for (size_t i = 0; i < n; i++) {
        jobs[i].status = BD_E_CANCELLED;
        jobs[i].sys_errno = 0;
        jobs[i].op = "cancel";
    }
    if (p)
        p->files_total = n;
    unsigned workers = bd_parallel_workers(n, CLAIM_RUN, threads);
    batch b = { src_root, dst, jobs, calloc(workers ? workers : 1, sizeof(dir_chain)), p };
    if (!b.chains)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    bd_status rc = bd_parallel_for(n, CLAIM_RUN, workers, clone_run, &b, p, e);
    if (rc == BD_OK)
        rc = bd_progress_tick(p, 1, e);
    for (unsigned w = 0; w < workers; w++)
        bd_chain_free(&b.chains[w]);
    free(b.chains);
    return rc;
}
