/* test_write_clones.c: new files cloned from an open handle, and a batch of them checked
 * against their hash. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_write.h"
#include "test.h"

#define S(x) x, strlen(x)
#define SIZE 70000

static int exists(bd_dir *d, const char *name)
{
    bd_error e;
    bd_stat st;
    bd_error_clear(&e);
    return bd_stat_at(d, name, strlen(name), &st, &e) == BD_OK;
}

static int can_clone(sandbox *sb)
{
    bd_error e;
    bd_fs_info fs;
    bd_error_clear(&e);
    return bd_fs_info_at(sb->dir, 1, &fs, &e) == BD_OK && (fs.flags & BD_FS_CLONE);
}

static char *pattern(char seed)
{
    char *data = malloc(SIZE);
    if (data)
        for (size_t i = 0; i < SIZE; i++)
            data[i] = (char)(i * 7 + (size_t)seed);
    return data;
}

static int same_as(bd_dir *d, const char *name, const char *data)
{
    char *back = malloc(SIZE + 1);
    long got = back ? read_all(d, name, back, SIZE + 1) : -1;
    int same = got == SIZE && memcmp(back, data, SIZE) == 0;
    free(back);
    return same;
}

TEST(create_clone_at_clones_the_open_file_or_leaves_nothing)
{
    bd_error e;
    bd_file *in, *out;
    bd_stat st;
    SANDBOX(sb);
    char *data = pattern(1);
    ASSERT(data);
    ASSERT_INT(sandbox_write(sb, "src", data, SIZE), ==, 0);
    ASSERT_INT(sandbox_write(sb, "taken", "x", 1), ==, 0);
    ASSERT_OK(bd_file_open_read(sb->dir, S("src"), &in, NULL, &e), &e);
    bd_error_clear(&e);
    bd_status rc = bd_file_create_clone_at(sb->dir, S("new"), 0640, in, &out, &e);
    if (can_clone(sb)) {
        ASSERT_INT(rc, ==, BD_OK);
        memset(&st, 0, sizeof st);
        st.mtime_ns = 1600000000000000000LL;
        ASSERT_OK(bd_file_set_meta(out, &st, BD_META_TIMES, &e), &e);  /* open for writing */
        bd_file_close(out);
        ASSERT(same_as(sb->dir, "new", data));
        ASSERT_OK(bd_stat_at(sb->dir, S("new"), &st, &e), &e);
        ASSERT_INT(st.mtime_ns, ==, 1600000000000000000LL);
    } else {
        ASSERT_INT(rc, ==, BD_E_NOTSUP);
        ASSERT(!exists(sb->dir, "new"));
    }
    /* Exclusive: an existing name is an error whatever the volume can do, and stays as it was. */
    bd_error_clear(&e);
    ASSERT_STATUS(bd_file_create_clone_at(sb->dir, S("taken"), 0640, in, &out, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
    char got[4];
    ASSERT_INT(read_all(sb->dir, "taken", got, sizeof got), ==, 1);
    bd_file_close(in);
    free(data);
}

static bd_new_clone nc(const char *path, const char *src, const char *data)
{
    bd_new_clone f;
    memset(&f, 0, sizeof f);
    f.path = path;
    f.path_len = strlen(path);
    f.src = src;
    f.src_len = strlen(src);
    if (data) {
        const uint8_t *msg = (const uint8_t *)data;
        size_t len = SIZE;
        bd_blake3_hash_messages(&msg, &len, 1, f.hash);
    }
    f.mode = 0640;
    f.mtime_ns = 1600000000000000000LL;
    return f;
}

TEST(clones_write_checks_each_source_against_its_hash)
{
    bd_error e;
    bd_dir *store, *d;
    SANDBOX(sb);
    char *one = pattern(1), *two = pattern(2);
    ASSERT(one && two);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("store"), 0700, &e), &e);
    ASSERT_OK(bd_dir_open_at(sb->dir, S("store"), &store, &e), &e);
    ASSERT_OK(bd_dir_create_at(store, S("ab"), 0700, &e), &e);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("d"), 0700, &e), &e);
    ASSERT_OK(bd_dir_open_at(sb->dir, S("d"), &d, &e), &e);
    ASSERT_INT(sandbox_write(sb, "store/ab/one", one, SIZE) | sandbox_write(sb, "store/ab/two", two, SIZE)
               | sandbox_write(sb, "d/taken", "x", 1), ==, 0);
    bd_new_clone files[] = {
        nc("d/bad", "ab/two", one),      /* the source's bytes are not what its hash says */
        nc("d/none", "ab/missing", one),  /* no such source */
        nc("d/good", "ab/one", one),
        nc("d/taken", "ab/one", one),     /* exclusive: an entry is there */
    };
    bd_error_clear(&e);
    ASSERT_OK(bd_clones_write(store, sb->dir, files, 4, NULL, &e), &e);
    ASSERT_INT(files[0].status, ==, BD_E_CORRUPT);
    ASSERT(files[0].at_source);
    ASSERT_INT(files[1].status, ==, BD_E_IO);
    ASSERT_INT(files[1].sys_errno, ==, ENOENT);
    ASSERT(files[1].at_source);
    ASSERT(!exists(d, "bad") && !exists(d, "none"));
    if (can_clone(sb)) {
        ASSERT_INT(files[2].status, ==, BD_OK);
        ASSERT(files[2].op == NULL);
        ASSERT_INT(files[2].st.size, ==, SIZE);
        ASSERT_INT(files[2].st.mode & 0777, ==, 0640);
        ASSERT_INT(files[2].st.mtime_ns, ==, 1600000000000000000LL);
        ASSERT(same_as(d, "good", one));
        ASSERT_INT(files[3].status, ==, BD_E_IO);
        ASSERT_INT(files[3].sys_errno, ==, EEXIST);
        ASSERT(!files[3].at_source);
    } else {
        /* The volume cannot clone: the first file to reach the clone says so, the ones after
         * it are not tried (the taken name would have been EEXIST), nothing is copied. */
        ASSERT_INT(files[2].status, ==, BD_E_NOTSUP);
        ASSERT_INT(files[3].status, ==, BD_E_NOTSUP);
        ASSERT(!exists(d, "good"));
    }
    char got[4];
    ASSERT_INT(read_all(d, "taken", got, sizeof got), ==, 1);
    bd_dir_close(d);
    bd_dir_close(store);
    free(one);
    free(two);
}

TEST(clones_write_reports_each_source_at_its_own_turn_across_the_sources_opened_ahead)
{
    /* More files than are opened ahead, from several directories, with a missing source and
     * a corrupt one past the first window: each failure is its own file's (its status and
     * source path), every other file is its own source's clone. */
    enum { N = 21, MISSING = 9, CORRUPT = 17 };
    bd_error e;
    bd_dir *d;
    SANDBOX(sb);
    char *data[3] = { pattern(1), pattern(2), pattern(3) };
    ASSERT(data[0] && data[1] && data[2]);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("s0"), 0700, &e), &e);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("s1"), 0700, &e), &e);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("d"), 0700, &e), &e);
    ASSERT_OK(bd_dir_open_at(sb->dir, S("d"), &d, &e), &e);
    char src[3][8], dst[N][8];
    for (int k = 0; k < 3; k++) {
        snprintf(src[k], sizeof src[k], "s%d/o%d", k % 2, k);
        ASSERT_INT(sandbox_write(sb, src[k], data[k], SIZE), ==, 0);
    }
    bd_new_clone files[N];
    for (int i = 0; i < N; i++) {
        snprintf(dst[i], sizeof dst[i], "d/f%d", i);
        files[i] = nc(dst[i], i == MISSING ? "s1/none" : src[i % 3], data[i % 3]);
    }
    files[CORRUPT] = nc(dst[CORRUPT], src[CORRUPT % 3], data[(CORRUPT + 1) % 3]);
    bd_error_clear(&e);
    ASSERT_OK(bd_clones_write(sb->dir, sb->dir, files, N, NULL, &e), &e);
    int clones = can_clone(sb);
    if (clones) {
        ASSERT_INT(files[MISSING].status, ==, BD_E_IO);
        ASSERT_INT(files[MISSING].sys_errno, ==, ENOENT);
        ASSERT(files[MISSING].at_source);
        ASSERT_INT(files[CORRUPT].status, ==, BD_E_CORRUPT);
        ASSERT(files[CORRUPT].at_source);
    }
    for (int i = 0; i < N; i++) {
        char name[8];
        snprintf(name, sizeof name, "f%d", i);
        if (!clones) {  /* the first file found it out: the others, opened ahead or not, are not tried */
            ASSERT_INT(files[i].status, ==, BD_E_NOTSUP);
            ASSERT(!exists(d, name));
        } else if (i == MISSING || i == CORRUPT) {
            ASSERT(!exists(d, name));
        } else {
            ASSERT_INT(files[i].status, ==, BD_OK);
            ASSERT(same_as(d, name, data[i % 3]));
        }
    }
    bd_dir_close(d);
    for (int k = 0; k < 3; k++)
        free(data[k]);
}

TEST(clones_write_cancelled_leaves_files_cancelled)
{
    bd_error e;
    bd_progress p;
    SANDBOX(sb);
    char *one = pattern(1);
    ASSERT(one);
    ASSERT_INT(sandbox_write(sb, "one", one, SIZE), ==, 0);
    bd_new_clone files[] = { nc("a", "one", one), nc("b", "one", one) };
    bd_progress_init(&p);
    bd_progress_cancel(&p);
    bd_error_clear(&e);
    ASSERT_STATUS(bd_clones_write(sb->dir, sb->dir, files, 2, &p, &e), BD_E_CANCELLED, &e);
    ASSERT_INT(files[1].status, ==, BD_E_CANCELLED);
    ASSERT(!exists(sb->dir, "b"));
    free(one);
}
