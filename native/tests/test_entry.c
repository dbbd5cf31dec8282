/* test_entry.c: hard links, renames, removal and metadata of single entries. */
#include <errno.h>
#include <string.h>

#include "test.h"

#define S(x) x, strlen(x)

static int nlink_in_listing(void *ctx, const char *name, size_t len, const bd_stat *st)
{
    uint32_t *out = ctx;
    if (len == 4 && memcmp(name, "orig", 4) == 0)
        out[0] = st->nlink;
    return 0;
}

TEST(entry_hardlink)
{
    bd_error e;
    bd_stat a, b;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "orig", "data", 4) == 0);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("sub"), 0755, &e), &e);
    bd_dir *sub;
    ASSERT_OK(bd_dir_open_at(sb->dir, S("sub"), &sub, &e), &e);
    bd_status rc = bd_hardlink_at(sb->dir, S("orig"), sub, S("link"), (bd_error_clear(&e), &e));
    bd_status st_rc = rc ? rc : bd_stat_at(sub, S("link"), &b, &e);
    char buf[8];
    long n = rc ? -1 : read_all(sub, "link", buf, sizeof buf);
    bd_dir_close(sub);
    ASSERT_INT(rc, ==, BD_OK);
    ASSERT_INT(st_rc, ==, BD_OK);
    ASSERT_OK(bd_stat_at(sb->dir, S("orig"), &a, &e), &e);
    ASSERT_INT(a.nlink, ==, 2);
    ASSERT_INT(b.nlink, ==, 2);
    ASSERT_INT(a.file_id, ==, b.file_id);
    ASSERT_INT(a.file_id_hi, ==, b.file_id_hi);
    ASSERT_INT(n, ==, 4);
    ASSERT(memcmp(buf, "data", 4) == 0);
    uint32_t listed[1] = { 0 };
    ASSERT_OK(bd_dir_list(sb->dir, nlink_in_listing, listed, &e), &e);
    ASSERT_INT(listed[0], ==, 2);  /* the listing reports link counts too */
    ASSERT_STATUS(bd_hardlink_at(sb->dir, S("orig"), sb->dir, S("orig"), &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
}

TEST(entry_rename)
{
    bd_error e;
    char buf[16];
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "a", "AAA", 3) == 0);
    ASSERT(sandbox_write(sb, "b", "BB", 2) == 0);
    /* NOREPLACE onto an existing name: refused, both untouched. */
    ASSERT_STATUS(bd_rename_at(sb->dir, S("a"), sb->dir, S("b"), BD_RENAME_NOREPLACE, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
    ASSERT_INT(read_all(sb->dir, "a", buf, sizeof buf), ==, 3);
    ASSERT_INT(read_all(sb->dir, "b", buf, sizeof buf), ==, 2);
    /* To a new name in another directory. */
    ASSERT_OK(bd_dir_create_at(sb->dir, S("sub"), 0755, &e), &e);
    bd_dir *sub;
    ASSERT_OK(bd_dir_open_at(sb->dir, S("sub"), &sub, &e), &e);
    bd_status rc = bd_rename_at(sb->dir, S("a"), sub, S("moved"), BD_RENAME_NOREPLACE, (bd_error_clear(&e), &e));
    long n = read_all(sub, "moved", buf, sizeof buf);
    bd_dir_close(sub);
    ASSERT_INT(rc, ==, BD_OK);
    ASSERT_INT(n, ==, 3);
    ASSERT(memcmp(buf, "AAA", 3) == 0);
    bd_stat st;
    ASSERT_STATUS(bd_stat_at(sb->dir, S("a"), &st, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
    /* Without NOREPLACE an existing file is replaced. */
    ASSERT(sandbox_write(sb, "c", "CCCC", 4) == 0);
    ASSERT_OK(bd_rename_at(sb->dir, S("c"), sb->dir, S("b"), 0, &e), &e);
    ASSERT_INT(read_all(sb->dir, "b", buf, sizeof buf), ==, 4);
    ASSERT(memcmp(buf, "CCCC", 4) == 0);
    /* Directories move too; a missing source is ENOENT. */
    ASSERT_OK(bd_rename_at(sb->dir, S("sub"), sb->dir, S("sub2"), BD_RENAME_NOREPLACE, &e), &e);
    ASSERT_OK(bd_stat_at(sb->dir, S("sub2"), &st, &e), &e);
    ASSERT_INT(st.kind, ==, BD_KIND_DIR);
    ASSERT_STATUS(bd_rename_at(sb->dir, S("nope"), sb->dir, S("x"), 0, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
    ASSERT_STATUS(bd_rename_at(sb->dir, S("b"), sb->dir, S("x"), 0x80, &e), BD_E_INVAL, &e);
}

TEST(entry_unlink)
{
    bd_error e;
    bd_stat st;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "f", "x", 1) == 0);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("empty"), 0755, &e), &e);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("full"), 0755, &e), &e);
    ASSERT(sandbox_write(sb, "full/inner", "y", 1) == 0);
    ASSERT_STATUS(bd_unlink_at(sb->dir, S("f"), 1, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOTDIR);
    ASSERT_STATUS(bd_unlink_at(sb->dir, S("empty"), 0, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EISDIR);
    ASSERT_STATUS(bd_unlink_at(sb->dir, S("full"), 1, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOTEMPTY);
    ASSERT_OK(bd_stat_at(sb->dir, S("full"), &st, &e), &e);
    ASSERT_OK(bd_unlink_at(sb->dir, S("f"), 0, &e), &e);
    ASSERT_OK(bd_unlink_at(sb->dir, S("empty"), 1, &e), &e);
    ASSERT_STATUS(bd_stat_at(sb->dir, S("f"), &st, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
    ASSERT_STATUS(bd_stat_at(sb->dir, S("empty"), &st, &e), BD_E_IO, &e);
    ASSERT_STATUS(bd_unlink_at(sb->dir, S("f"), 0, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
}

TEST(entry_meta_times_and_mode)
{
    bd_error e;
    bd_stat st, got;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "src", "s", 1) == 0);
    ASSERT(sandbox_write(sb, "dst", "d", 1) == 0);
    ASSERT_OK(bd_stat_at(sb->dir, S("src"), &st, &e), &e);
    st.mtime_ns = 1600000000123456700LL;  /* a multiple of 100 ns: exact on NTFS too */
    st.mode = 0100444;
    st.attrs = 0;  /* as from a POSIX scan: the mode says read-only */
    ASSERT_OK(bd_meta_copy_at(sb->dir, S("src"), sb->dir, S("dst"), &st, BD_META_TIMES | BD_META_MODE, &e), &e);
    ASSERT_OK(bd_stat_at(sb->dir, S("dst"), &got, &e), &e);
    ASSERT_INT(got.mtime_ns, ==, 1600000000123456700LL);
    ASSERT_INT(got.mode & 0222, ==, 0);
    /* A read-only entry can still be removed (after making it writable again here). */
    st.mode = 0100644;
    ASSERT_OK(bd_meta_copy_at(sb->dir, S("src"), sb->dir, S("dst"), &st, BD_META_MODE, &e), &e);
    ASSERT_OK(bd_stat_at(sb->dir, S("dst"), &got, &e), &e);
    ASSERT_INT(got.mode & 0200, ==, 0200);
    ASSERT_INT(got.mtime_ns, ==, 1600000000123456700LL);  /* MODE alone keeps the time */
    ASSERT_STATUS(bd_meta_copy_at(sb->dir, S("src"), sb->dir, S("nope"), &st, BD_META_TIMES, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
    ASSERT_STATUS(bd_meta_copy_at(sb->dir, S("src"), sb->dir, S("dst"), &st, 0x100, &e), BD_E_INVAL, &e);
}

TEST(entry_unlink_read_only_file)
{
    bd_error e;
    bd_stat st;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "ro", "r", 1) == 0);
    ASSERT_OK(bd_stat_at(sb->dir, S("ro"), &st, &e), &e);
    st.mode = 0100444;
    st.attrs = 0;
    ASSERT_OK(bd_meta_copy_at(sb->dir, S("ro"), sb->dir, S("ro"), &st, BD_META_MODE, &e), &e);
    ASSERT_OK(bd_unlink_at(sb->dir, S("ro"), 0, &e), &e);
    ASSERT_STATUS(bd_stat_at(sb->dir, S("ro"), &st, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
}

TEST(volume_info)
{
    bd_error e;
    bd_fs_info fs;
    bd_stat st;
    SANDBOX(sb);
    ASSERT_OK(bd_fs_info_at(sb->dir, 0, &fs, &e), &e);
    ASSERT(fs.fs_name[0] != '\0');
    ASSERT(memchr(fs.fs_name, '\0', sizeof fs.fs_name) != 0);
    ASSERT_INT(fs.block_size, >=, 512);
    ASSERT_INT(fs.block_size & (fs.block_size - 1), ==, 0);
    ASSERT_INT(fs.bytes_total, >=, fs.bytes_free);
    ASSERT_INT(fs.bytes_total, >, 0);
    ASSERT_INT(fs.flags & BD_FS_CLONE, ==, 0);  /* only a trial may claim cloning */
    ASSERT_OK(bd_dir_stat(sb->dir, &st, &e), &e);
    ASSERT_INT(fs.volume_id, ==, st.volume_id);
}
