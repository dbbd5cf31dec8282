/* test_write_dirs.c: a tree's directories created, then finished, never through a link. */
#include <stdio.h>
#include <string.h>

#include "bodega/bd_write.h"
#include "test.h"

static bd_new_dir nd(const char *path, uint32_t mode, int64_t mtime_ns)
{
    bd_new_dir d;
    d.path = path;
    d.path_len = strlen(path);
    d.mode = mode;
    d.mtime_ns = mtime_ns;
    d.owner = 0;
    d.uid = d.gid = 0;
    return d;
}

TEST(write_dirs_creates_parents_first_then_finishes_each_after_its_subdirectories)
{
    bd_error e;
    bd_stat st, after[4];
    size_t done = 99;
    SANDBOX(sb);
    bd_new_dir dirs[4] = {nd("a", 0751, 1500000000000000000LL), nd("a/b", 0705, 1600000000000000000LL),
                          nd("a/b/c", 0700, 1700000000000000000LL), nd("z", 0755, 1400000000000000000LL)};
    ASSERT_OK(bd_dirs_create(sb->dir, dirs, 4, 0700, NULL, &done, &e), &e);
    ASSERT_INT(done, ==, 4);
    memset(after, 0xAB, sizeof after);
    ASSERT_OK(bd_dirs_finish(sb->dir, dirs, 4, after, NULL, &done, &e), &e);
    ASSERT_INT(done, ==, 4);
    /* Finished children first: no parent's mtime was changed after it was set. */
    for (int i = 0; i < 4; i++) {
        ASSERT_INT(after[i].kind, ==, BD_KIND_DIR);
        ASSERT_INT(after[i].mtime_ns, ==, dirs[i].mtime_ns);
    }
    bd_dir *a;
    ASSERT_OK(bd_dir_open_at(sb->dir, "a", 1, &a, &e), &e);
    bd_status rc = bd_stat_at(a, "b", 1, &st, (bd_error_clear(&e), &e));
    bd_dir_close(a);
    ASSERT_INT(rc, ==, BD_OK);
    ASSERT_INT(st.mtime_ns, ==, 1600000000000000000LL);
    ASSERT_INT(after[1].file_id, ==, st.file_id);
#ifndef _WIN32
    ASSERT_INT(st.mode & 07777, ==, 0705);
    ASSERT_INT(after[0].mode & 07777, ==, 0751);
#endif
    ASSERT_OK(bd_stat_at(sb->dir, "a", 1, &st, &e), &e);
    ASSERT_INT(st.mtime_ns, ==, 1500000000000000000LL);
}

TEST(write_dirs_create_stops_at_an_existing_name)
{
    bd_error e;
    size_t done = 99;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "taken", "x", 1) == 0);
    bd_new_dir dirs[3] = {nd("first", 0755, 0), nd("taken", 0755, 0), nd("never", 0755, 0)};
    ASSERT_STATUS(bd_dirs_create(sb->dir, dirs, 3, 0700, NULL, &done, &e), BD_E_IO, &e);
    ASSERT_STR(e.path, "taken");
    ASSERT_INT(done, ==, 1);
}

TEST(write_dirs_never_go_through_a_link_put_in_a_directory_s_place)
{
    bd_error e;
    bd_stat before, st;
    size_t done = 99;
    SKIP_UNDER_WINE("symlinks need a privilege Wine's prefix may lack");
    SANDBOX(sb);
    ASSERT_OK(bd_dir_create_at(sb->dir, "outside", 7, 0755, &e), &e);
    ASSERT_OK(bd_stat_at(sb->dir, "outside", 7, &before, &e), &e);
    bd_new_dir dirs[2] = {nd("a", 0700, 1500000000000000000LL), nd("a/b", 0777, 1600000000000000000LL)};
    ASSERT_OK(bd_dirs_create(sb->dir, dirs, 2, 0700, NULL, &done, &e), &e);
    /* a/b swapped for a link to a directory outside the tree before the finishing pass */
    bd_dir *a;
    ASSERT_OK(bd_dir_open_at(sb->dir, "a", 1, &a, &e), &e);
    bd_status rm = bd_unlink_at(a, "b", 1, 1, (bd_error_clear(&e), &e));
    bd_status ln = bd_link_create_at(a, "b", 1, "../outside", 10, BD_LINK_DIR, (bd_error_clear(&e), &e));
    bd_dir_close(a);
    ASSERT_INT(rm, ==, BD_OK);
    ASSERT_INT(ln, ==, BD_OK);
    ASSERT_STATUS(bd_dirs_finish(sb->dir, dirs, 2, NULL, NULL, &done, &e), BD_E_UNSAFE_PATH, &e);
    ASSERT_STR(e.path, "a/b");
    ASSERT_INT(done, ==, 0);
    ASSERT_OK(bd_stat_at(sb->dir, "outside", 7, &st, &e), &e);
    ASSERT_INT(st.mode, ==, before.mode);
    ASSERT_INT(st.mtime_ns, ==, before.mtime_ns);
    /* a link on the way to a directory stops its creation too */
    bd_new_dir through[1] = {nd("a/b/c", 0700, 0)};
    ASSERT_STATUS(bd_dirs_create(sb->dir, through, 1, 0700, NULL, &done, &e), BD_E_UNSAFE_PATH, &e);
    ASSERT_INT(done, ==, 0);
    bd_dir *out;
    ASSERT_OK(bd_dir_open_at(sb->dir, "outside", 7, &out, &e), &e);
    bd_status c = bd_stat_at(out, "c", 1, &st, (bd_error_clear(&e), &e));
    bd_dir_close(out);
    ASSERT_INT(c, ==, BD_E_IO);
}

static int stop_after_one(const bd_progress *p, void *ctx)
{
    (void)ctx;
    return p->files_done >= 1;
}

TEST(write_dirs_cancel_stops_before_the_next_directory)
{
    bd_error e;
    bd_stat st;
    bd_progress p;
    size_t done = 99;
    SANDBOX(sb);
    bd_new_dir dirs[2] = {nd("one", 0755, 1500000000000000000LL), nd("two", 0755, 1600000000000000000LL)};
    bd_progress_init(&p);
    p.interval_ns = 0;
    p.fn = stop_after_one;
    ASSERT_STATUS(bd_dirs_create(sb->dir, dirs, 2, 0700, &p, &done, &e), BD_E_CANCELLED, &e);
    ASSERT_INT(done, ==, 1);
    ASSERT_STATUS(bd_stat_at(sb->dir, "two", 3, &st, &e), BD_E_IO, &e);
    ASSERT_OK(bd_dirs_create(sb->dir, dirs + 1, 1, 0700, NULL, &done, &e), &e);
    bd_progress_init(&p);
    p.interval_ns = 0;
    p.fn = stop_after_one;
    ASSERT_STATUS(bd_dirs_finish(sb->dir, dirs, 2, NULL, &p, &done, &e), BD_E_CANCELLED, &e);
    ASSERT_INT(done, ==, 1);
    ASSERT_OK(bd_stat_at(sb->dir, "two", 3, &st, &e), &e);
    ASSERT_INT(st.mtime_ns, ==, 1600000000000000000LL);
    ASSERT_OK(bd_stat_at(sb->dir, "one", 3, &st, &e), &e);
    ASSERT_INT(st.mtime_ns, !=, 1500000000000000000LL);
}

/* Enough directories for the threads (more than write_dirs.c's PARALLEL_MIN), three deep,
 * given as a tree lists them (each parent followed by its whole subtree, not by depth). */
#define WIDE 12
#define MANY (WIDE + WIDE * WIDE + WIDE * WIDE * WIDE)

static size_t many_dirs(bd_new_dir *dirs, char (*names)[16])
{
    size_t n = 0;
    for (int a = 0; a < WIDE; a++) {
        snprintf(names[n], 16, "%02d", a);
        dirs[n] = nd(names[n], 0755, 1500000000000000000LL + (int64_t)n * 1000), n++;
        for (int b = 0; b < WIDE; b++) {
            snprintf(names[n], 16, "%02d/%02d", a, b);
            dirs[n] = nd(names[n], b % 2 ? 0555 : 0700, 1500000000000000000LL + (int64_t)n * 1000), n++;
            for (int c = 0; c < WIDE; c++) {
                snprintf(names[n], 16, "%02d/%02d/%02d", a, b, c);
                dirs[n] = nd(names[n], 0750, 1500000000000000000LL + (int64_t)n * 1000), n++;
            }
        }
    }
    return n;
}

TEST(write_dirs_many_are_created_parents_first_and_each_finished_with_its_own_metadata)
{
    static bd_new_dir dirs[MANY];
    static char names[MANY][16];
    static bd_stat after[MANY];
    bd_error e;
    bd_stat st;
    size_t done = 0, n = many_dirs(dirs, names);
    SANDBOX(sb);
    ASSERT_INT(n, ==, MANY);
    ASSERT_OK(bd_dirs_create(sb->dir, dirs, n, 0700, NULL, &done, &e), &e);
    ASSERT_INT(done, ==, n);
    ASSERT_OK(bd_dirs_finish(sb->dir, dirs, n, after, NULL, &done, &e), &e);
    ASSERT_INT(done, ==, n);
    for (size_t i = 0; i < n; i++) {
        ASSERT_INT(after[i].mtime_ns, ==, dirs[i].mtime_ns);  /* after[i] is dirs[i]'s */
#ifndef _WIN32
        ASSERT_INT(after[i].mode & 07777, ==, dirs[i].mode);  /* Windows keeps no mode bits */
#endif
    }
    /* What the tree holds, read back: no parent's mtime moved once set. */
    bd_dir *d;
    ASSERT_OK(bd_dir_open_at(sb->dir, "07", 2, &d, &e), &e);
    ASSERT_OK(bd_stat_at(d, "11", 2, &st, &e), &e);
    bd_dir_close(d);
    ASSERT_INT(st.mtime_ns, ==, dirs[7 * (1 + WIDE + WIDE * WIDE) + 1 + 11 * (1 + WIDE)].mtime_ns);
    ASSERT_OK(bd_stat_at(sb->dir, "07", 2, &st, &e), &e);
    ASSERT_INT(st.mtime_ns, ==, dirs[7 * (1 + WIDE + WIDE * WIDE)].mtime_ns);
}

TEST(write_dirs_many_stop_at_a_link_in_their_place_and_on_cancel)
{
    static bd_new_dir dirs[MANY];
    static char names[MANY][16];
    bd_error e;
    bd_stat st;
    bd_progress p;
    size_t done = 0, n = many_dirs(dirs, names);
    SKIP_UNDER_WINE("symlinks need a privilege Wine's prefix may lack");
    SANDBOX(sb);
    ASSERT_OK(bd_dirs_create(sb->dir, dirs, n, 0700, NULL, &done, &e), &e);
    /* 05/03/07 swapped for a link to a directory outside the tree before the finishing pass */
    ASSERT_OK(bd_dir_create_at(sb->dir, "outside", 7, 0700, &e), &e);
    bd_dir *d;
    ASSERT_OK(bd_dir_open_at(sb->dir, "05", 2, &d, &e), &e);
    bd_dir *d2;
    ASSERT_OK(bd_dir_open_at(d, "03", 2, &d2, &e), &e);
    bd_dir_close(d);
    bd_status rm = bd_unlink_at(d2, "07", 2, 1, (bd_error_clear(&e), &e));
    bd_status ln = bd_link_create_at(d2, "07", 2, "../../outside", 13, BD_LINK_DIR, (bd_error_clear(&e), &e));
    bd_dir_close(d2);
    ASSERT_INT(rm, ==, BD_OK);
    ASSERT_INT(ln, ==, BD_OK);
    ASSERT_STATUS(bd_dirs_finish(sb->dir, dirs, n, NULL, NULL, &done, &e), BD_E_UNSAFE_PATH, &e);
    ASSERT_STR(e.path, "05/03/07");
    ASSERT_INT(done, <, n);
    ASSERT_OK(bd_stat_at(sb->dir, "outside", 7, &st, &e), &e);
    ASSERT_INT(st.mode & 07777, ==, 0700);  /* untouched: nothing was done through the link */
    /* A cancel stops the threads: not every directory is made. */
    SANDBOX(again);
    bd_progress_init(&p);
    p.interval_ns = 0;
    p.fn = stop_after_one;
    ASSERT_STATUS(bd_dirs_create(again->dir, dirs, n, 0700, &p, &done, &e), BD_E_CANCELLED, &e);
    ASSERT_INT(done, >=, 1);
    ASSERT_INT(done, <, n);
}
