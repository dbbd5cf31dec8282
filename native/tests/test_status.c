/* test_status.c: the error record and status names. */
#include <errno.h>
#include <string.h>

#include "test.h"

TEST(status_first_failure_wins)
{
    bd_error e;
    bd_error_clear(&e);
    ASSERT_INT(bd_fail(&e, BD_E_IO, ENOENT, "openat", BD_PATH_SRC, "a/b"), ==, BD_E_IO);
    ASSERT_INT(bd_fail(&e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_DST, "x"), ==, BD_E_NOMEM);
    ASSERT_INT(e.code, ==, BD_E_IO);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
    ASSERT_STR(e.op, "openat");
    ASSERT_STR(e.path, "a/b");
    ASSERT_INT(e.path_base, ==, BD_PATH_SRC);
    bd_error_clear(&e);
    ASSERT_INT(e.code, ==, BD_OK);
    ASSERT_STR(e.path, "");
}

TEST(status_path_is_bounded_and_rewritable)
{
    static char long_path[BD_ERR_PATH_MAX + 100];
    memset(long_path, 'p', sizeof long_path - 1);
    bd_error e;
    bd_error_clear(&e);
    bd_fail_n(&e, BD_E_IO, EIO, "read", BD_PATH_AS_GIVEN, long_path, sizeof long_path - 1);
    ASSERT_INT(e.path_truncated, ==, 1);
    ASSERT_INT(strlen(e.path), ==, BD_ERR_PATH_MAX - 1);
    bd_error_set_path(&e, BD_PATH_DST, "dir/file", 3);
    ASSERT_STR(e.path, "dir");
    ASSERT_INT(e.path_base, ==, BD_PATH_DST);
    ASSERT_INT(e.path_truncated, ==, 0);
    bd_error clean;
    bd_error_clear(&clean);
    bd_error_set_path(&clean, BD_PATH_DST, "x", 1);  /* no failure: nothing to rewrite */
    ASSERT_STR(clean.path, "");
    ASSERT_INT(bd_fail(0, BD_E_CORRUPT, 0, "hash", 0, 0), ==, BD_E_CORRUPT);  /* e may be NULL */
}

TEST(status_names)
{
    ASSERT_STR(bd_status_name(BD_OK), "BD_OK");
    ASSERT_STR(bd_status_name(BD_E_UNSAFE_PATH), "BD_E_UNSAFE_PATH");
    ASSERT_STR(bd_status_name(BD_E_SPECIAL), "BD_E_SPECIAL");
    ASSERT_STR(bd_status_name((bd_status)BD_STATUS_COUNT), "BD_E_UNKNOWN");
    ASSERT_STR(bd_status_name((bd_status)-1), "BD_E_UNKNOWN");
}
