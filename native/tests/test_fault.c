/* test_fault.c: the counted write-type steps of bd_fault.h: an injected errno fails exactly
 * the planned step (of the planned kind) with the entry named, and a trace logs every step. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bodega/bd_fault.h"
#include "test.h"

#define S(x) x, strlen(x)

TEST(fault_unarmed_counts_nothing)
{
    bd_error e;
    SANDBOX(sb);
    ASSERT_INT(bd_fault_arm("", 0), ==, 0);
    ASSERT_OK(bd_dir_create_at(sb->dir, S("d"), 0755, &e), &e);
    ASSERT_INT(bd_fault_count(), ==, 0);
}

TEST(fault_rejects_what_is_not_a_plan)
{
    const char *bad[] = {"kill", "kill@", "kill@0", "kill@x", "EPERM@1", "kill@move:1", "kill@1x", "trace2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ASSERT_INT(bd_fault_arm(bad[i], 0), ==, -1);
    ASSERT_INT(bd_fault_arm("", 0), ==, 0);
}

TEST(fault_fails_the_planned_step_of_its_kind_once)
{
    bd_error e1, e2, e3, e4;
    bd_file *f = 0, *g = 0;
    SANDBOX(sb);
    ASSERT_INT(bd_fault_arm("ENOSPC@create:2", 0), ==, 0);
    bd_error_clear(&e1);
    bd_error_clear(&e2);
    bd_error_clear(&e3);
    bd_error_clear(&e4);
    bd_status mk = bd_dir_create_at(sb->dir, S("d"), 0755, &e1);      /* not a create: not counted */
    bd_status first = bd_file_create_at(sb->dir, S("a"), &f, &e2);    /* create 1 */
    bd_status second = bd_file_create_at(sb->dir, S("b"), &g, &e3);   /* create 2: fails */
    bd_file *h = 0;
    bd_status third = bd_file_create_at(sb->dir, S("c"), &h, &e4);    /* once only */
    uint64_t counted = bd_fault_count();
    bd_fault_arm("", 0);
    if (f)
        bd_file_close(f);
    if (h)
        bd_file_close(h);
    ASSERT_INT(mk, ==, BD_OK);
    ASSERT_INT(first, ==, BD_OK);
    ASSERT_INT(second, ==, BD_E_IO);
    ASSERT_INT(e3.sys_errno, ==, ENOSPC);
    ASSERT_STR(e3.path, "b");
    ASSERT_STR(e3.op, "injected create");
    ASSERT(g == 0);
    ASSERT_INT(third, ==, BD_OK);
    ASSERT_INT(counted, ==, 3);
    bd_stat st;
    bd_error e;
    ASSERT_STATUS(bd_stat_at(sb->dir, S("b"), &st, &e), BD_E_IO, &e);  /* never created */
}

TEST(fault_counts_every_kind_of_write_step)
{
    bd_error e;
    bd_file *f;
    SANDBOX(sb);
    ASSERT_INT(bd_fault_arm("EACCES@99999", 0), ==, 0);  /* armed, never reached: counts only */
    bd_error_clear(&e);
    int ok = bd_dir_create_at(sb->dir, S("d"), 0755, &e) == BD_OK                  /* 1 mkdir */
          && bd_file_create_at(sb->dir, S("a"), &f, &e) == BD_OK;                  /* 2 create */
    ok = ok && bd_file_write(f, "xy", 2, &e) == BD_OK                              /* 3 write */
          && bd_file_sync(f, &e) == BD_OK;                                         /* 4 sync */
    if (ok)
        bd_file_close(f);
    ok = ok && bd_rename_at(sb->dir, S("a"), sb->dir, S("b"), 0, &e) == BD_OK      /* 5 rename */
          && bd_hardlink_at(sb->dir, S("b"), sb->dir, S("c"), &e) == BD_OK         /* 6 link */
          && bd_unlink_at(sb->dir, S("c"), 0, &e) == BD_OK                         /* 7 unlink */
          && bd_dir_sync(sb->dir, &e) == BD_OK;                                    /* 8 sync */
    uint64_t counted = bd_fault_count();
    bd_fault_arm("", 0);
    ASSERT(ok);
    ASSERT_INT(counted, ==, 8);
}

TEST(fault_trace_logs_one_line_per_step)
{
    bd_error e;
    char log[1100], line[256];
    SANDBOX(sb);
    snprintf(log, sizeof log, "%s%ctrace.log", sb->path, BD_PATH_IS_SEP('\\') ? '\\' : '/');
    ASSERT_INT(bd_fault_arm("trace", log), ==, 0);
    bd_error_clear(&e);
    int ok = bd_dir_create_at(sb->dir, S("one"), 0755, &e) == BD_OK
          && bd_rename_at(sb->dir, S("one"), sb->dir, S("two"), 0, &e) == BD_OK;
    bd_fault_arm("", 0);
    ASSERT(ok);
    FILE *in = fopen(log, "rb");
    ASSERT(in != 0);
    int lines = 0, first = 0, second = 0;
    while (fgets(line, sizeof line, in)) {
        lines++;
        first += strcmp(line, "1 mkdir one\n") == 0;
        second += strcmp(line, "2 rename one\n") == 0;
    }
    fclose(in);
    ASSERT_INT(lines, ==, 2);
    ASSERT_INT(first, ==, 1);
    ASSERT_INT(second, ==, 1);
}
