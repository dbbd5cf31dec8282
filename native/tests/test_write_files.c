/* test_write_files.c: a batch of new files under a root, never through a link. */
#include <errno.h>
#include <string.h>

#include "bodega/bd_write.h"
#include "test.h"

static bd_new_file nf(const char *path, const char *data, uint32_t mode)
{
    bd_new_file f;
    f.path = path;
    f.path_len = strlen(path);
    f.data = data;
    f.size = strlen(data);
    f.mode = mode;
    f.mtime_ns = 1600000000000000000LL;
    f.owner = 0;
    f.uid = f.gid = 0;
    return f;
}

TEST(write_files_creates_each_with_mode_and_time)
{
    bd_error e;
    bd_stat st;
    bd_dir *a;
    char got[16];
    size_t done = 99;
    SANDBOX(sb);
    ASSERT_OK(bd_dir_create_at(sb->dir, "a", 1, 0755, &e), &e);
    ASSERT_OK(bd_dir_open_at(sb->dir, "a", 1, &a, &e), &e);
    ASSERT_OK(bd_dir_create_at(a, "b", 1, 0755, &e), &e);
    bd_new_file files[3] = {nf("top", "1", 0644), nf("a/b/deep", "deep", 0600), nf("a/mid", "", 0644)};
    bd_status rc = bd_files_write(sb->dir, files, 3, NULL, NULL, &done, (bd_error_clear(&e), &e));
    ASSERT_INT(rc, ==, BD_OK);
    ASSERT_INT(done, ==, 3);
    ASSERT_INT(read_all(sb->dir, "top", got, sizeof got), ==, 1);
    ASSERT_OK(bd_stat_at(a, "mid", 3, &st, &e), &e);
    ASSERT_INT(st.size, ==, 0);
    ASSERT_INT(st.mtime_ns, ==, 1600000000000000000LL);
    bd_dir *b;
    ASSERT_OK(bd_dir_open_at(a, "b", 1, &b, &e), &e);
    ASSERT_INT(read_all(b, "deep", got, sizeof got), ==, 4);
    ASSERT(memcmp(got, "deep", 4) == 0);
    bd_dir_close(b);
    bd_dir_close(a);
}

TEST(write_files_reports_each_stat_after_writing_and_gives_owners)
{
    bd_error e;
    bd_stat st;
    bd_stat after[2];
    size_t done = 99;
    SANDBOX(sb);
    bd_new_file files[2] = {nf("plain", "four", 0640), nf("owned", "12345678", 0604)};
    files[1].owner = 1;
    files[1].uid = 4321;
    files[1].gid = 8765;
    memset(after, 0xAB, sizeof after);
    ASSERT_OK(bd_files_write(sb->dir, files, 2, after, NULL, &done, (bd_error_clear(&e), &e)), &e);
    ASSERT_INT(done, ==, 2);
    ASSERT_INT(after[0].kind, ==, BD_KIND_FILE);
    ASSERT_INT(after[0].size, ==, 4);
    ASSERT_INT(after[1].size, ==, 8);
    ASSERT_INT(after[1].mtime_ns, ==, 1600000000000000000LL);
    ASSERT_OK(bd_stat_at(sb->dir, "owned", 5, &st, &e), &e);
    ASSERT_INT(after[1].file_id, ==, st.file_id);
    ASSERT_INT(after[1].ctime_ns, ==, st.ctime_ns);
    if (bd_owner_settable()) {
        ASSERT_INT(st.uid, ==, 4321);
        ASSERT_INT(st.gid, ==, 8765);
        ASSERT_INT(st.mode & 07777, ==, 0604);
        ASSERT_INT(after[1].uid, ==, 4321);
    }
}

TEST(write_files_stops_at_an_existing_name_and_keeps_the_earlier_ones)
{
    bd_error e;
    bd_stat st;
    size_t done = 99;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "taken", "mine", 4) == 0);
    bd_new_file files[3] = {nf("first", "1", 0644), nf("taken", "theirs", 0644), nf("never", "3", 0644)};
    bd_status rc = bd_files_write(sb->dir, files, 3, NULL, NULL, &done, (bd_error_clear(&e), &e));
    ASSERT_INT(rc, ==, BD_E_IO);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
    ASSERT_STR(e.path, "taken");
    ASSERT_INT(done, ==, 1);
    ASSERT_OK(bd_stat_at(sb->dir, "first", 5, &st, &e), &e);
    ASSERT_OK(bd_stat_at(sb->dir, "taken", 5, &st, &e), &e);
    ASSERT_INT(st.size, ==, 4);
    ASSERT_STATUS(bd_stat_at(sb->dir, "never", 5, &st, &e), BD_E_IO, &e);
}

TEST(write_files_never_goes_through_a_link)
{
    bd_error e;
    bd_stat st;
    size_t done = 99;
    SKIP_UNDER_WINE("symlinks need a privilege Wine's prefix may lack");
    SANDBOX(sb);
    ASSERT_OK(bd_dir_create_at(sb->dir, "real", 4, 0755, &e), &e);
    ASSERT_OK(bd_link_create_at(sb->dir, "via", 3, "real", 4, BD_LINK_DIR, &e), &e);
    ASSERT_OK(bd_link_create_at(sb->dir, "lnk", 3, "real/x", 6, 0, &e), &e);
    bd_new_file through[1] = {nf("via/escaped", "x", 0644)};
    ASSERT_STATUS(bd_files_write(sb->dir, through, 1, NULL, NULL, &done, &e), BD_E_UNSAFE_PATH, &e);
    ASSERT_INT(done, ==, 0);
    bd_new_file onto[1] = {nf("lnk", "x", 0644)};
    ASSERT_STATUS(bd_files_write(sb->dir, onto, 1, NULL, NULL, &done, &e), BD_E_IO, &e);
    bd_dir *real;
    ASSERT_OK(bd_dir_open_at(sb->dir, "real", 4, &real, &e), &e);
    bd_status a = bd_stat_at(real, "escaped", 7, &st, (bd_error_clear(&e), &e));
    bd_status b = bd_stat_at(real, "x", 1, &st, (bd_error_clear(&e), &e));
    bd_dir_close(real);
    ASSERT_INT(a, ==, BD_E_IO);
    ASSERT_INT(b, ==, BD_E_IO);
}

static int stop_after_one(const bd_progress *p, void *ctx)
{
    (void)ctx;
    return p->files_done >= 1;
}

TEST(write_files_cancel_stops_before_the_next_file)
{
    bd_error e;
    bd_stat st;
    bd_progress p;
    size_t done = 99;
    SANDBOX(sb);
    bd_progress_init(&p);
    p.interval_ns = 0;
    p.fn = stop_after_one;
    bd_new_file files[3] = {nf("one", "1", 0644), nf("two", "2", 0644), nf("three", "3", 0644)};
    ASSERT_STATUS(bd_files_write(sb->dir, files, 3, NULL, &p, &done, &e), BD_E_CANCELLED, &e);
    ASSERT_INT(done, ==, 1);
    ASSERT_INT(p.files_done, ==, 1);
    ASSERT_INT(p.bytes_done, ==, 1);
    ASSERT_OK(bd_stat_at(sb->dir, "one", 3, &st, &e), &e);
    ASSERT_STATUS(bd_stat_at(sb->dir, "two", 3, &st, &e), BD_E_IO, &e);
}
