/* test_clone_files.c: a batch of files cloned into one directory, each with its own status. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_clone.h"
#include "test.h"

#define S(x) x, strlen(x)

static int exists(bd_dir *d, const char *name)
{
    bd_error e;
    bd_stat st;
    bd_error_clear(&e);
    return bd_stat_at(d, name, strlen(name), &st, &e) == BD_OK;
}

static bd_clone_job job(const char *path, const char *dst)
{
    bd_clone_job j;
    memset(&j, 0, sizeof j);
    j.path = path;
    j.path_len = strlen(path);
    j.dst_name = dst;
    j.dst_len = strlen(dst);
    return j;
}

TEST(clone_files_each_job_has_its_status)
{
    bd_error e;
    bd_fs_info fs;
    size_t n = 70000;
    char *data = malloc(n);
    ASSERT(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + 1);
    SANDBOX(sb);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("src"), 0700, &e), &e);
    bd_dir *src, *out, *sub;
    ASSERT_OK(bd_dir_open_at(sb->dir, S("src"), &src, &e), &e);
    ASSERT_OK(bd_dir_create_at(src, S("a"), 0700, &e), &e);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("out"), 0700, &e), &e);
    ASSERT_OK(bd_dir_open_at(sb->dir, S("out"), &out, &e), &e);
    int w = sandbox_write(sb, "src/a/f1", data, n) | sandbox_write(sb, "src/g", "ten bytes!", 10);
    ASSERT_INT(w, ==, 0);
    bd_clone_job jobs[] = { job("a/f1", "o1"), job("g", "o2"), job("missing", "o3"), job("a/../g", "o4"),
                            job("a", "o5"), job("", "o6") };
    size_t nj = sizeof jobs / sizeof *jobs;
    ASSERT_OK(bd_clone_files(src, out, jobs, nj, 2, 0, &e), &e);
    ASSERT_OK(bd_fs_info_at(sb->dir, 1, &fs, &e), &e);
    if (fs.flags & BD_FS_CLONE) {
        ASSERT_INT(jobs[0].status, ==, BD_OK);
        ASSERT_INT(jobs[1].status, ==, BD_OK);
        ASSERT_INT(jobs[0].st.size, ==, n);
        ASSERT_INT(jobs[1].st.size, ==, 10);
        bd_stat st;
        ASSERT_OK(bd_dir_open_at(src, S("a"), &sub, &e), &e);
        ASSERT_OK(bd_stat_at(sub, S("f1"), &st, &e), &e);
        bd_dir_close(sub);
        ASSERT_INT(jobs[0].st.file_id, ==, st.file_id);  /* the source's stat, not the clone's */
        char *back = malloc(n + 1);
        ASSERT(back);
        long got = read_all(out, "o1", back, n + 1);
        int same = got == (long)n && memcmp(back, data, n) == 0;
        free(back);
        ASSERT(same);
    } else {
        /* No clone on this volume: NOTSUP for each, never a copied byte, nothing left. */
        ASSERT_INT(jobs[0].status, ==, BD_E_NOTSUP);
        ASSERT_INT(jobs[1].status, ==, BD_E_NOTSUP);
        ASSERT(!exists(out, "o1") && !exists(out, "o2"));
    }
    free(data);
    ASSERT_INT(jobs[2].status, ==, BD_E_IO);
    ASSERT_INT(jobs[2].sys_errno, ==, ENOENT);
    ASSERT_INT(jobs[3].status, ==, BD_E_INVAL);  /* ".." is never walked */
    ASSERT_INT(jobs[4].status, ==, BD_E_IO);     /* a directory is not a file to clone */
    ASSERT_INT(jobs[5].status, ==, BD_E_INVAL);
    ASSERT(jobs[2].op != 0 && (jobs[0].status != BD_OK || jobs[0].op == 0));
    ASSERT(!exists(out, "o3") && !exists(out, "o4") && !exists(out, "o5") && !exists(out, "o6"));
    bd_dir_close(src);
    bd_dir_close(out);
}

TEST(clone_files_cancelled_leaves_jobs_cancelled)
{
    bd_error e;
    bd_progress p;
    SANDBOX(sb);
    ASSERT_INT(sandbox_write(sb, "f", "x", 1), ==, 0);
    bd_clone_job jobs[] = { job("f", "o1"), job("f", "o2") };
    bd_progress_init(&p);
    bd_progress_cancel(&p);
    ASSERT_STATUS(bd_clone_files(sb->dir, sb->dir, jobs, 2, 1, &p, &e), BD_E_CANCELLED, &e);
    ASSERT_INT(jobs[0].status, ==, BD_E_CANCELLED);
    ASSERT_INT(jobs[1].status, ==, BD_E_CANCELLED);
    ASSERT(!exists(sb->dir, "o1") && !exists(sb->dir, "o2"));
}
