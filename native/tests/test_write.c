/* test_write.c: files created for writing and metadata set on entries, never through a link. */
#include <errno.h>
#include <string.h>

#include "test.h"

#define S(x) x, strlen(x)

static bd_stat meta(uint32_t mode, int64_t mtime_ns)
{
    bd_stat st;
    memset(&st, 0, sizeof st);
    st.mode = mode;
    st.mtime_ns = mtime_ns;
    return st;
}

TEST(write_create_exclusive_with_meta)
{
    bd_error e;
    bd_file *f;
    bd_stat st, got;
    char buf[16];
    SANDBOX(sb);
    ASSERT_OK(bd_file_create_at(sb->dir, S("f"), &f, &e), &e);
    bd_status w1 = bd_file_write(f, "hel", 3, (bd_error_clear(&e), &e));
    bd_status w2 = w1 ? w1 : bd_file_write(f, "lo", 2, &e);
    bd_status sy = w2 ? w2 : bd_file_sync(f, &e);
    st = meta(0100444, 1600000000123456700LL);  /* read-only: the handle still writes */
    bd_status sm = sy ? sy : bd_file_set_meta(f, &st, BD_META_MODE | BD_META_TIMES, &e);
    bd_status fs = sm ? sm : bd_file_stat(f, &got, &e);
    bd_file_close(f);
    ASSERT_INT(w1, ==, BD_OK);
    ASSERT_INT(w2, ==, BD_OK);
    ASSERT_INT(sy, ==, BD_OK);
    ASSERT_INT(sm, ==, BD_OK);
    ASSERT_INT(fs, ==, BD_OK);
    ASSERT_INT(got.kind, ==, BD_KIND_FILE);
    ASSERT_INT(got.size, ==, 5);
    ASSERT_INT(got.mtime_ns, ==, 1600000000123456700LL);
    ASSERT_INT(got.mode & 0222, ==, 0);
    ASSERT_INT(read_all(sb->dir, "f", buf, sizeof buf), ==, 5);
    ASSERT(memcmp(buf, "hello", 5) == 0);
    /* Exclusive: an existing name (a file, a directory) is never overwritten. */
    ASSERT_STATUS(bd_file_create_at(sb->dir, S("f"), &f, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("d"), 0755, &e), &e);
    ASSERT_STATUS(bd_file_create_at(sb->dir, S("d"), &f, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
    ASSERT_STATUS(bd_file_create_at(sb->dir, S(".."), &f, &e), BD_E_INVAL, &e);
    ASSERT_STATUS(bd_file_create_at(sb->dir, S("a/b"), &f, &e), BD_E_INVAL, &e);
    ASSERT_INT(read_all(sb->dir, "f", buf, sizeof buf), ==, 5);
    st = meta(0100644, 0);
    ASSERT_STATUS(bd_meta_set_at(sb->dir, S("f"), &st, BD_META_XATTRS, &e), BD_E_INVAL, &e);
}

TEST(write_create_never_through_a_link)
{
    bd_error e;
    bd_file *f;
    bd_stat st;
    SANDBOX(sb);
    bd_error_clear(&e);
    if (bd_link_create_at(sb->dir, S("dangling"), S("target"), 0, &e) != BD_OK && test_wine_version())
        SKIP_UNDER_WINE("symlink creation (FSCTL_SET_REPARSE_POINT), so creating over a link is unchecked");
    ASSERT_INT(e.code, ==, BD_OK);
    ASSERT(sandbox_write(sb, "real", "r", 1) == 0);
    ASSERT_OK(bd_link_create_at(sb->dir, S("ln"), S("real"), 0, &e), &e);
    /* A dangling link is not followed to create its target; a link to a file is not opened. */
    ASSERT_STATUS(bd_file_create_at(sb->dir, S("dangling"), &f, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
    ASSERT_STATUS(bd_stat_at(sb->dir, S("target"), &st, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
    ASSERT_STATUS(bd_file_create_at(sb->dir, S("ln"), &f, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
    ASSERT_OK(bd_stat_at(sb->dir, S("real"), &st, &e), &e);
    ASSERT_INT(st.size, ==, 1);
}

TEST(write_meta_set_on_entries)
{
    bd_error e;
    bd_stat st, got;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "f", "x", 1) == 0);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("d"), 0755, &e), &e);
    st = meta(0100444, 1500000000000000100LL);
    ASSERT_OK(bd_meta_set_at(sb->dir, S("f"), &st, BD_META_MODE | BD_META_TIMES, &e), &e);
    ASSERT_OK(bd_stat_at(sb->dir, S("f"), &got, &e), &e);
    ASSERT_INT(got.mtime_ns, ==, 1500000000000000100LL);
    ASSERT_INT(got.mode & 0222, ==, 0);
    st = meta(0100640, 0);
    ASSERT_OK(bd_meta_set_at(sb->dir, S("f"), &st, BD_META_MODE, &e), &e);
    ASSERT_OK(bd_stat_at(sb->dir, S("f"), &got, &e), &e);
    ASSERT_INT(got.mode & 0200, ==, 0200);
    ASSERT_INT(got.mtime_ns, ==, 1500000000000000100LL);  /* MODE alone keeps the time */
    st = meta(040700, 1400000000000000000LL);
    ASSERT_OK(bd_meta_set_at(sb->dir, S("d"), &st, BD_META_MODE | BD_META_TIMES, &e), &e);
    ASSERT_OK(bd_stat_at(sb->dir, S("d"), &got, &e), &e);
    ASSERT_INT(got.kind, ==, BD_KIND_DIR);
    ASSERT_INT(got.mtime_ns, ==, 1400000000000000000LL);
#ifndef _WIN32
    ASSERT_INT(got.mode & 07777, ==, 0700);
    ASSERT_INT(bd_stat_at(sb->dir, S("f"), &got, &e), ==, BD_OK);
    ASSERT_INT(got.mode & 07777, ==, 0640);
#endif
    ASSERT_STATUS(bd_meta_set_at(sb->dir, S("missing"), &st, BD_META_TIMES, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
}

TEST(write_meta_never_follows_a_link)
{
    bd_error e;
    bd_stat st, before, got;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "target", "t", 1) == 0);
    bd_error_clear(&e);
    if (bd_link_create_at(sb->dir, S("ln"), S("target"), 0, &e) != BD_OK && test_wine_version())
        SKIP_UNDER_WINE("symlink creation (FSCTL_SET_REPARSE_POINT), so meta on a link is unchecked");
    ASSERT_INT(e.code, ==, BD_OK);
    ASSERT_OK(bd_stat_at(sb->dir, S("target"), &before, &e), &e);
    /* Mode on a link: left alone, the target untouched; times go to the link itself. */
    st = meta(0120000, 1300000000000000000LL);
    ASSERT_OK(bd_meta_set_at(sb->dir, S("ln"), &st, BD_META_MODE | BD_META_TIMES, &e), &e);
    ASSERT_OK(bd_stat_at(sb->dir, S("target"), &got, &e), &e);
    ASSERT_INT(got.mode, ==, before.mode);
    ASSERT_INT(got.mtime_ns, ==, before.mtime_ns);
    ASSERT_OK(bd_stat_at(sb->dir, S("ln"), &got, &e), &e);
    ASSERT_INT(got.kind, ==, BD_KIND_SYMLINK);
    ASSERT_INT(got.mtime_ns, ==, 1300000000000000000LL);
}

TEST(write_owner_then_set_id_bits)
{
    bd_error e;
    bd_file *f;
    bd_stat st, got;
    SANDBOX(sb);
    ASSERT_OK(bd_file_create_at(sb->dir, S("f"), &f, &e), &e);
    st = meta(0106755, 0);
    st.uid = 4242;
    st.gid = 4243;
    bd_status rc = bd_file_set_meta(f, &st, BD_META_OWNER | BD_META_MODE, (bd_error_clear(&e), &e));
    bd_file_close(f);
    ASSERT_INT(rc, ==, BD_OK);
    ASSERT(sandbox_write(sb, "g", "g", 1) == 0);
    ASSERT_OK(bd_meta_set_at(sb->dir, S("g"), &st, BD_META_OWNER | BD_META_MODE, &e), &e);
    if (!bd_owner_settable())
        return;  /* not privileged (or Windows): the owner is left as created, and no error */
    for (int i = 0; i < 2; i++) {
        ASSERT_OK(bd_stat_at(sb->dir, i ? "g" : "f", 1, &got, &e), &e);
        ASSERT_INT(got.uid, ==, 4242);
        ASSERT_INT(got.gid, ==, 4243);
        ASSERT_INT(got.mode & 07777, ==, 06755);  /* the chown came first: the bits survive */
    }
}

TEST(write_meta_on_an_open_directory)
{
    bd_error e;
    bd_stat st, got;
    bd_dir *d;
    SANDBOX(sb);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("d"), 0755, &e), &e);
    ASSERT_OK(bd_dir_open_at(sb->dir, S("d"), &d, &e), &e);
    st = meta(040751, 1200000000000000000LL);
    bd_status rc = bd_dir_set_meta(d, &st, BD_META_MODE | BD_META_TIMES, (bd_error_clear(&e), &e));
    bd_status again = rc ? rc : bd_dir_set_meta(d, &st, BD_META_XATTRS, &e);
    bd_dir_close(d);
    ASSERT_INT(rc, ==, BD_OK);
    ASSERT_INT(again, ==, BD_E_INVAL);
    ASSERT_OK(bd_stat_at(sb->dir, S("d"), &got, &e), &e);
    ASSERT_INT(got.kind, ==, BD_KIND_DIR);
    ASSERT_INT(got.mtime_ns, ==, 1200000000000000000LL);
#ifndef _WIN32
    ASSERT_INT(got.mode & 07777, ==, 0751);
#endif
}

TEST(write_volume_sync)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "f", "x", 1) == 0);
    bd_error_clear(&e);
    bd_status rc = bd_volume_sync(sb->dir, &e);
#ifdef __linux__
    ASSERT_INT(rc, ==, BD_OK);
#else
    ASSERT(rc == BD_OK || rc == BD_E_NOTSUP);  /* NOTSUP: the caller flushes file by file */
#endif
}
