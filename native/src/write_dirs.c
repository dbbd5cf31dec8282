/* write_dirs.c: the directories of a tree being written, created and then finished (bd_write.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_write.h"
#include "bodega/bd_thread.h"
#include "dir_chain.h"
#include "parallel.h"

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

/* ---- many directories at once: a level at a time on several threads -------------------
 *
 * Creating or finishing a directory is a few system calls that wait on the volume's locks
 * of one parent (its entries) and one allocation group.  The directories are taken a depth
 * at a time, each depth shared out in runs of neighbours: when one depth is created, every
 * parent of the next exists; finishing goes from the deepest up, so each directory is
 * finished after its subdirectories.  (Subtrees would need no step between depths, but a
 * real tree is lopsided: in a copy of /usr/lib one of 288 top directories holds 80% of
 * the 11.5k below it.) */

#define PARALLEL_MIN 1024  /* fewer directories: one thread */
#define RUN 64             /* directories a worker claims at a time: neighbours share parents */

typedef struct levels_job {
    dirs_job *dirs;
    const size_t *order;  /* this depth's directories (indices into dirs), in input order */
    bd_chain_step step;
    dir_chain *chains;    /* one per worker, kept from one depth to the next */
    size_t *done;         /* per worker */
    bd_progress *p;
} levels_job;

static size_t depth_of(const bd_new_dir *d)
{
    size_t depth = 1;
    for (size_t i = 0; i < d->path_len; i++)
        depth += d->path[i] == '/';
    return depth;
}

static bd_status level_run(void *ctx, unsigned worker, size_t start, size_t end, bd_error *e)
{
    levels_job *job = ctx;
    for (size_t k = start; k < end; k++) {
        uint64_t bytes = 0;
        bd_status rc = job->step(job->dirs, &job->chains[worker], job->order[k], &bytes, e);
        if (rc != BD_OK)
            return rc;
        job->done[worker]++;
        bd_progress_add(job->p, 1, 0);
    }
    return BD_OK;
}

/* Every directory's step: alone for a few, else a depth at a time (reverse: the deepest
 * first) on one thread per CPU; *done counts the steps done. */
static bd_status dirs_each(dirs_job *dj, size_t n, bd_chain_step step, int reverse, bd_progress *p, size_t *done,
                           bd_error *e)
{
    unsigned workers = bd_cpu_count();
    if (n < PARALLEL_MIN || workers < 2)
        return bd_chain_each(n, reverse, step, dj, p, done, e);
    size_t *depth = malloc(n * sizeof *depth), *order = malloc(n * sizeof *order), deepest = 0;
    levels_job job = {dj, NULL, step, calloc(workers, sizeof(dir_chain)), calloc(workers, sizeof(size_t)), p};
    size_t *starts = NULL;
    bd_status rc = BD_OK;
    *done = 0;
    if (depth && order && job.chains && job.done) {
        for (size_t i = 0; i < n; i++)
            if ((depth[i] = depth_of(&dj->dirs[i])) > deepest)
                deepest = depth[i];
        starts = calloc(deepest + 2, sizeof *starts);
    }
    if (!starts) {
        rc = bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    } else {
        /* A counting sort by depth, input order kept within each depth. */
        for (size_t i = 0; i < n; i++)
            starts[depth[i] + 1]++;
        for (size_t d = 1; d <= deepest + 1; d++)
            starts[d] += starts[d - 1];
        for (size_t i = 0; i < n; i++)
            order[starts[depth[i]]++] = i;
        for (size_t d = deepest + 1; d > 0; d--)
            starts[d] = starts[d - 1];
        starts[0] = 0;
        for (size_t k = 1; k <= deepest && rc == BD_OK; k++) {
            size_t d = reverse ? deepest + 1 - k : k, count = starts[d + 1] - starts[d];
            job.order = order + starts[d];
            rc = bd_parallel_for(count, RUN, workers, level_run, &job, p, e);
        }
        for (unsigned w = 0; w < workers; w++)
            *done += job.done[w];
    }
    if (job.chains)
        for (unsigned w = 0; w < workers; w++)
            bd_chain_free(&job.chains[w]);
    free(job.chains);
    free(job.done);
    free(starts);
    free(order);
    free(depth);
    return rc;
}

bd_status bd_dirs_create(bd_dir *root, const bd_new_dir *dirs, size_t n, uint32_t mode, bd_progress *p,
                         size_t *done, bd_error *e)
{
    dirs_job job = {root, dirs, mode, NULL};
    return dirs_each(&job, n, create_one, 0, p, done, e);
}

bd_status bd_dirs_finish(bd_dir *root, const bd_new_dir *dirs, size_t n, bd_stat *after, bd_progress *p,
                         size_t *done, bd_error *e)
{
    dirs_job job = {root, dirs, 0, after};
    return dirs_each(&job, n, finish_one, 1, p, done, e);
}
