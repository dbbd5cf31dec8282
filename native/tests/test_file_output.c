/* test_file_output.c: output files created with a mode, or opened for writing through. */
#include <errno.h>
#include <string.h>

#include "bodega/bd_file.h"
#include "test.h"

#define S(x) x, strlen(x)

TEST(output_create_mode_is_exclusive)
{
    bd_error e;
    bd_file *f;
    bd_stat st;
    char buf[8];
    SANDBOX(sb);
    ASSERT_OK(bd_file_create_mode_at(sb->dir, S("out"), 0640, &f, &e), &e);
    bd_status w = bd_file_write(f, "abc", 3, (bd_error_clear(&e), &e));
    bd_status s = w ? w : bd_file_stat(f, &st, &e);
    bd_file_close(f);
    ASSERT_INT(w, ==, BD_OK);
    ASSERT_INT(s, ==, BD_OK);
#ifndef _WIN32
    ASSERT_INT(st.mode & 0027, ==, 0);  /* never more than asked */
    ASSERT_INT(st.mode & 0600, ==, 0600);
#endif
    ASSERT_INT(read_all(sb->dir, "out", buf, sizeof buf), ==, 3);
    ASSERT_STATUS(bd_file_create_mode_at(sb->dir, S("out"), 0644, &f, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
    ASSERT_INT(read_all(sb->dir, "out", buf, sizeof buf), ==, 3);
}

TEST(output_open_write_keeps_and_overwrites_in_place)
{
    bd_error e;
    bd_file *f;
    bd_stat seen, opened;
    char buf[16];
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "f", "0123456789", 10) == 0);
    ASSERT_OK(bd_stat_at(sb->dir, S("f"), &seen, &e), &e);
    ASSERT_OK(bd_file_open_write_at(sb->dir, S("f"), &f, &opened, &e), &e);
    bd_status w = bd_file_write(f, "ab", 2, (bd_error_clear(&e), &e));
    bd_file_close(f);
    ASSERT_INT(w, ==, BD_OK);
    ASSERT_INT(opened.file_id, ==, seen.file_id);
    ASSERT_INT(read_all(sb->dir, "f", buf, sizeof buf), ==, 10);  /* not truncated */
    ASSERT(memcmp(buf, "ab23456789", 10) == 0);
    ASSERT_STATUS(bd_file_open_write_at(sb->dir, S("missing"), &f, 0, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("d"), 0755, &e), &e);
    bd_error_clear(&e);
    ASSERT(bd_file_open_write_at(sb->dir, S("d"), &f, 0, &e) != BD_OK);
}

TEST(output_open_write_never_follows_a_link)
{
    bd_error e;
    bd_file *f;
    char buf[8];
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "target", "keep", 4) == 0);
    bd_error_clear(&e);
    bd_status made = bd_link_create_at(sb->dir, S("l"), S("target"), 0, &e);
    if (test_wine_version()) {
        ASSERT_INT(made, ==, BD_E_NOTSUP);
        SKIP_UNDER_WINE("symlink creation (FSCTL_SET_REPARSE_POINT is not implemented)");
    }
    ASSERT_INT(made, ==, BD_OK);
    ASSERT_STATUS(bd_file_open_write_at(sb->dir, S("l"), &f, 0, &e), BD_E_UNSAFE_PATH, &e);
    ASSERT_STATUS(bd_file_create_mode_at(sb->dir, S("l"), 0644, &f, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, EEXIST);
    ASSERT_INT(read_all(sb->dir, "target", buf, sizeof buf), ==, 4);
    ASSERT(memcmp(buf, "keep", 4) == 0);
}
