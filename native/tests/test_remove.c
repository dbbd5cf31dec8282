/* test_remove.c: bd_remove_tree names what it could not remove by its path from the parent
 * it was given (a failed unlink deep down, a directory that would not go), not by the one
 * name the failing platform call knew; an injected EIO stands for a refusal (an injected
 * EACCES would be retried after widening the directory, as a real one is). */
#include <errno.h>
#include <string.h>

#include "bodega/bd_fault.h"
#include "bodega/bd_remove.h"
#include "test.h"

#define S(x) x, strlen(x)

/* d/sub/f: one file, so the first unlink is f's and the second sub's. */
static int make_tree(bd_dir *root, bd_error *e)
{
    bd_dir *d = 0, *sub = 0;
    bd_file *f = 0;
    int ok = bd_dir_create_at(root, S("d"), 0755, e) == BD_OK
          && bd_dir_open_at(root, S("d"), &d, e) == BD_OK
          && bd_dir_create_at(d, S("sub"), 0755, e) == BD_OK
          && bd_dir_open_at(d, S("sub"), &sub, e) == BD_OK
          && bd_file_create_at(sub, S("f"), &f, e) == BD_OK;
    if (f)
        bd_file_close(f);
    if (sub)
        bd_dir_close(sub);
    if (d)
        bd_dir_close(d);
    return ok;
}

static bd_status remove_failing(bd_dir *root, const char *plan, bd_error *e)
{
    bd_error_clear(e);
    bd_fault_arm(plan, 0);
    bd_status rc = bd_remove_tree(root, S("d"), 0, e);
    bd_fault_arm("", 0);
    return rc;
}

TEST(remove_tree_names_a_file_it_could_not_remove_from_the_parent)
{
    bd_error e;
    bd_stat st;
    SANDBOX(sb);
    ASSERT(make_tree(sb->dir, &e));
    ASSERT_INT(remove_failing(sb->dir, "EIO@unlink:1", &e), ==, BD_E_IO);
    ASSERT_INT(e.sys_errno, ==, EIO);
    ASSERT_INT(e.path_base, ==, BD_PATH_DST);
    ASSERT_STR(e.path, "d/sub/f");
    ASSERT_OK(bd_stat_at(sb->dir, S("d"), &st, &e), &e);  /* what failed stays, for a later try */
    ASSERT_OK(bd_remove_tree(sb->dir, S("d"), 0, &e), &e);
    ASSERT_STATUS(bd_stat_at(sb->dir, S("d"), &st, &e), BD_E_IO, &e);
}

TEST(remove_tree_names_a_directory_it_could_not_remove)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT(make_tree(sb->dir, &e));
    ASSERT_INT(remove_failing(sb->dir, "EIO@unlink:2", &e), ==, BD_E_IO);
    ASSERT_INT(e.sys_errno, ==, EIO);
    ASSERT_STR(e.path, "d/sub");
    ASSERT_OK(bd_remove_tree(sb->dir, S("d"), 0, &e), &e);
}

TEST(remove_tree_names_a_missing_entry_from_the_parent)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT_STATUS(bd_remove_tree(sb->dir, S("gone"), 0, &e), BD_E_IO, &e);
    ASSERT_INT(e.sys_errno, ==, ENOENT);
    ASSERT_INT(e.path_base, ==, BD_PATH_DST);
    ASSERT_STR(e.path, "gone");
}
