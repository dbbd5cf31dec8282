/* hash_files.c: the BLAKE3 hashes of many files under one root, on all cores. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_hash.h"
#include "bodega/bd_thread.h"
#include "dir_chain.h"
#include "file_read.h"
#include "hash_open.h"
#include "parallel.h"

#define BIG_FILE ((uint64_t)8 << 20)  /* hashed later on all threads rather than on one */
#define CLAIM_RUN 32                  /* jobs a worker takes at once: neighbours share directories,
                                         and their small files fill the SIMD lanes together */
#define SMALL_BUF ((size_t)CLAIM_RUN * BD_BLAKE3_SMALL_MAX)

typedef struct worker {
    dir_chain chain;
    uint8_t *buf;    /* read buffer of a file hashed on its own */
    uint8_t *small;  /* the small files of a run, read whole and hashed together */
} worker;

typedef struct batch {
    bd_dir *root;
    bd_hash_job *jobs;
    size_t run;              /* jobs a worker claims at once (CLAIM_RUN at most) */
    unsigned threads;        /* workers of the first pass */
    unsigned file_threads;   /* threads for one big file: what the caller asked for */
    unsigned char *deferred; /* 1: a big file left for the second pass */
    worker *workers;
    bd_progress *p;
} batch;

/* Closes a job's file, its pages dropped from the cache first when the job asks. */
static void close_job_file(const bd_hash_job *job, bd_file *f)
{
    if (job->drop_cached)
        bd_file_drop_cached(f);
    bd_file_close(f);
}

static void job_result(bd_hash_job *job, bd_status rc, const bd_error *e)
{
    job->status = rc;
    job->sys_errno = rc == BD_OK ? 0 : e->sys_errno;
    job->op = rc == BD_OK ? 0 : e->op;
}

/* Opens a job's file: each directory of its path, then the file, never through a link. */
static bd_status open_job(batch *b, worker *wk, const bd_hash_job *job, bd_file **f, bd_stat *before, bd_error *fe)
{
    bd_dir *dir;
    const char *name;
    size_t name_len;
    bd_status rc = bd_chain_open_parent(&wk->chain, b->root, job->path, job->path_len, &dir, &name, &name_len, fe);
    if (rc == BD_OK)
        rc = bd_file_open_read(dir, name, name_len, f, before, fe);
    return rc;
}

/* Ends a job that did not go into a small-file group: its status, one file of progress.
 * Returns only what must stop the batch (cancel, memory); a file's own failure stays in
 * its job. */
static bd_status finish_job(batch *b, bd_hash_job *job, bd_status rc, const bd_error *fe, bd_error *e)
{
    bd_progress_add(b->p, 1, 0);
    if (rc == BD_E_CANCELLED || rc == BD_E_NOMEM) {
        *e = *fe;
        return rc;
    }
    job_result(job, rc, fe);
    return BD_OK;
}

/* Reads a kept file whole into job->keep, checks it did not change, and hashes it there. */
static bd_status read_kept(bd_file *f, const bd_stat *before, bd_hash_job *job, bd_error *e)
{
    bd_status rc = bd_read_exact(f, job->keep, (size_t)before->size, 0, e);
    if (rc == BD_OK)
        rc = bd_check_unchanged(f, before, e);
    if (rc != BD_OK)
        return rc;
    bd_blake3 h;
    bd_blake3_init(&h);
    bd_blake3_update(&h, job->keep, (size_t)before->size);
    bd_blake3_finalize(&h, job->hash, BD_HASH_LEN);
    job->st = *before;
    job->kept = 1;
    return BD_OK;
}

/* Hashes a run of jobs: small files are read whole and hashed together at the end, others
 * one by one on this thread, big ones left for the second pass. */
static bd_status hash_run(void *ctx, unsigned w, size_t start, size_t end, bd_error *e)
{
    batch *b = ctx;
    worker *wk = &b->workers[w];
    size_t idx[CLAIM_RUN], lens[CLAIM_RUN] = {0}, n_small = 0, used = 0;
    const uint8_t *msgs[CLAIM_RUN] = {0};
    uint8_t hashes[CLAIM_RUN * BD_HASH_LEN];
    for (size_t i = start; i < end; i++) {
        bd_hash_job *job = &b->jobs[i];
        bd_error fe;
        bd_file *f;
        bd_stat before;
        bd_error_clear(&fe);
        bd_status rc = open_job(b, wk, job, &f, &before, &fe);
        int keep = rc == BD_OK && job->keep && before.size <= job->keep_cap;
        if (rc == BD_OK && !keep && b->file_threads > 1 && before.size >= BIG_FILE) {
            bd_file_close(f);  /* its pages kept: read in the second pass */
            b->deferred[i] = 1;
            continue;
        }
        if (rc == BD_OK && before.size <= BD_BLAKE3_SMALL_MAX && (keep || used + before.size <= SMALL_BUF)) {
            /* read whole (into the caller's keep, or this worker's buffer), hashed with the run */
            size_t size = (size_t)before.size;
            uint8_t *to = keep ? job->keep : wk->small + used;
            rc = bd_read_exact(f, to, size, 0, &fe);
            if (rc == BD_OK)
                rc = bd_check_unchanged(f, &before, &fe);
            close_job_file(job, f);
            if (rc == BD_OK) {
                job->st = before;
                job->kept = keep;
                idx[n_small] = i;
                msgs[n_small] = to;
                lens[n_small++] = size;
                used += keep ? 0 : size;
                bd_progress_add(b->p, 1, size);
                continue;
            }
        } else if (rc == BD_OK && keep) {
            rc = read_kept(f, &before, job, &fe);
            close_job_file(job, f);
            bd_progress_add(b->p, 0, rc == BD_OK ? before.size : 0);
        } else if (rc == BD_OK) {
            rc = bd_hash_open_file(f, &before, 1, wk->buf, job->hash, b->p, w == 0, &fe);
            close_job_file(job, f);
            if (rc == BD_OK)
                job->st = before;
        }
        rc = finish_job(b, job, rc, &fe, e);
        if (rc != BD_OK)
            return rc;
    }
    bd_blake3_hash_messages(msgs, lens, n_small, hashes);
    for (size_t k = 0; k < n_small; k++) {
        memcpy(b->jobs[idx[k]].hash, hashes + k * BD_HASH_LEN, BD_HASH_LEN);
        job_result(&b->jobs[idx[k]], BD_OK, 0);
    }
    return BD_OK;
}

/* Hashes one big job's file on every thread. */
static bd_status hash_alone(batch *b, size_t i, unsigned threads, bd_error *e)
{
    bd_hash_job *job = &b->jobs[i];
    bd_error fe;
    bd_file *f;
    bd_stat before;
    bd_error_clear(&fe);
    bd_status rc = open_job(b, &b->workers[0], job, &f, &before, &fe);
    if (rc == BD_OK) {
        rc = bd_hash_open_file(f, &before, threads, b->workers[0].buf, job->hash, b->p, 1, &fe);
        close_job_file(job, f);
        if (rc == BD_OK)
            job->st = before;
    }
    return finish_job(b, job, rc, &fe, e);
}

bd_status bd_hash_files(bd_dir *root, bd_hash_job *jobs, size_t n, unsigned threads,
                        bd_progress *p, bd_error *e)
{
    batch b;
    bd_status rc = BD_OK;
    for (size_t i = 0; i < n; i++) {
        jobs[i].status = BD_E_CANCELLED;
        jobs[i].sys_errno = 0;
        jobs[i].op = "cancel";
        jobs[i].kept = 0;
    }
    if (p)
        p->files_total = n;
    b.root = root;
    b.jobs = jobs;
    b.p = p;
    /* A short batch is spread over every thread: its files may wait on the device (fresh
     * clones are not in the page cache), and then reads in flight are what counts. */
    b.run = bd_parallel_run(n, CLAIM_RUN, threads);
    b.threads = bd_parallel_workers(n, b.run, threads);
    b.file_threads = threads ? threads : bd_cpu_count();
    b.deferred = calloc(n ? n : 1, 1);
    b.workers = calloc(b.threads, sizeof *b.workers);
    if (!b.deferred || !b.workers)
        rc = bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    for (unsigned w = 0; rc == BD_OK && w < b.threads; w++)
        if (!(b.workers[w].buf = malloc(BD_READ_BLOCK)) || !(b.workers[w].small = malloc(SMALL_BUF)))
            rc = bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    if (rc == BD_OK)
        rc = bd_parallel_for(n, b.run, b.threads, hash_run, &b, p, e);
    /* big files, one after the other, each split over every thread */
    for (size_t i = 0; rc == BD_OK && i < n; i++)
        if (b.deferred[i]) {
            rc = hash_alone(&b, i, b.file_threads, e);
            if (rc == BD_OK)
                rc = bd_progress_tick(p, 0, e);
        }
    if (rc == BD_OK)
        rc = bd_progress_tick(p, 1, e); /* the final counts, whatever the interval */
    for (unsigned w = 0; b.workers && w < b.threads; w++) {
        bd_chain_free(&b.workers[w].chain);
        free(b.workers[w].buf);
        free(b.workers[w].small);
    }
    free(b.workers);
    free(b.deferred);
    return rc;
}
