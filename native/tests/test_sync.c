/* test_sync.c: bd_file_sync_at, never through a link. */
#include <string.h>

#include "bodega/bd_sync.h"
#include "test.h"

#define S(x) x, strlen(x)

TEST(sync_at_flushes_a_regular_file_only)
{
    bd_error e;
    char buf[8];
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "f", "data", 4) == 0);
    ASSERT_OK(bd_file_sync_at(sb->dir, S("f"), &e), &e);
    ASSERT_INT(read_all(sb->dir, "f", buf, sizeof buf), ==, 4);
    ASSERT_STATUS(bd_file_sync_at(sb->dir, S("missing"), &e), BD_E_IO, &e);
    ASSERT_STATUS(bd_file_sync_at(sb->dir, S("a/b"), &e), BD_E_INVAL, &e);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("d"), 0755, &e), &e);
    bd_error_clear(&e);
    ASSERT(bd_file_sync_at(sb->dir, S("d"), &e) != BD_OK);  /* a directory is not a file */
}

TEST(sync_at_never_follows_a_link)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "f", "data", 4) == 0);
    bd_error_clear(&e);
    bd_status made = bd_link_create_at(sb->dir, S("l"), S("f"), 0, &e);
    if (test_wine_version()) {
        ASSERT_INT(made, ==, BD_E_NOTSUP);
        SKIP_UNDER_WINE("symlink creation (FSCTL_SET_REPARSE_POINT is not implemented)");
    }
    ASSERT_INT(made, ==, BD_OK);
    ASSERT_STATUS(bd_file_sync_at(sb->dir, S("l"), &e), BD_E_UNSAFE_PATH, &e);
}
