/* test_lock.c: bd_file_lock (whole-file advisory locks) and bd_process_alive. */
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "bodega/bd_lock.h"
#include "bodega/bd_process.h"
#include "test.h"

#define S(x) x, strlen(x)

/* Two handles on one file conflict as two processes would (flock: per open file
 * description; LockFileEx: per handle); closing the holder releases the lock. */
TEST(lock_conflicts_between_handles_and_goes_with_close)
{
    bd_error e;
    bd_file *a, *b, *c;
    int taken = -1;
    char buf[8];
    SANDBOX(sb);
    ASSERT(sandbox_write(sb, "lock", "data", 4) == 0);
    ASSERT_OK(bd_file_open_read(sb->dir, S("lock"), &a, 0, &e), &e);
    ASSERT_OK(bd_file_open_read(sb->dir, S("lock"), &b, 0, &e), &e);
    ASSERT_OK(bd_file_open_read(sb->dir, S("lock"), &c, 0, &e), &e);
    /* shared with shared: both hold it */
    ASSERT_OK(bd_file_lock(a, 0, &taken, &e), &e);
    ASSERT_INT(taken, ==, 1);
    ASSERT_OK(bd_file_lock(b, 0, &taken, &e), &e);
    ASSERT_INT(taken, ==, 1);
    /* exclusive against two shared holders: refused at once, not an error */
    ASSERT_OK(bd_file_lock(c, 1, &taken, &e), &e);
    ASSERT_INT(taken, ==, 0);
    /* the content stays readable by anyone while the lock is held */
    ASSERT_INT(read_all(sb->dir, "lock", buf, sizeof buf), ==, 4);
    bd_file_close(a);
    ASSERT_OK(bd_file_lock(c, 1, &taken, &e), &e);
    ASSERT_INT(taken, ==, 0);  /* b still holds it shared */
    bd_file_close(b);
    ASSERT_OK(bd_file_lock(c, 1, &taken, &e), &e);
    ASSERT_INT(taken, ==, 1);
    /* exclusive against shared, from a fresh handle */
    ASSERT_OK(bd_file_open_read(sb->dir, S("lock"), &a, 0, &e), &e);
    ASSERT_OK(bd_file_lock(a, 0, &taken, &e), &e);
    ASSERT_INT(taken, ==, 0);
    bd_file_close(c);
    ASSERT_OK(bd_file_lock(a, 0, &taken, &e), &e);
    ASSERT_INT(taken, ==, 1);
    bd_file_close(a);
}

/* A file created for writing locks too (journals lock before their first byte). */
TEST(lock_a_created_file)
{
    bd_error e;
    bd_file *w, *r;
    int taken = -1;
    SANDBOX(sb);
    ASSERT_OK(bd_file_create_at(sb->dir, S("j"), &w, &e), &e);
    ASSERT_OK(bd_file_lock(w, 1, &taken, &e), &e);
    ASSERT_INT(taken, ==, 1);
    bd_status wr = bd_file_write(w, "{}", 2, (bd_error_clear(&e), &e));
    bd_status ro = wr ? wr : bd_file_open_read(sb->dir, S("j"), &r, 0, &e);
    int other = -1;
    bd_status lk = ro ? ro : bd_file_lock(r, 1, &other, &e);
    if (ro == BD_OK)
        bd_file_close(r);
    bd_file_close(w);
    ASSERT_INT(wr, ==, BD_OK);
    ASSERT_INT(ro, ==, BD_OK);
    ASSERT_INT(lk, ==, BD_OK);
    ASSERT_INT(other, ==, 0);
}

TEST(process_alive_self_and_never_a_pid_that_cannot_exist)
{
#ifdef _WIN32
    uint64_t self = GetCurrentProcessId();
#else
    uint64_t self = (uint64_t)getpid();
#endif
    ASSERT_INT(bd_process_alive(self), ==, 1);
    ASSERT_INT(bd_process_alive(0), ==, 0);
    /* above Linux's pid_max limit (2^22); on Windows ids are multiples of 4 */
    ASSERT_INT(bd_process_alive(0x7FFFFFF3u), ==, 0);
    ASSERT_INT(bd_process_alive(UINT64_MAX), ==, 0);
}

#ifndef _WIN32
/* A child that ended but was not reaped (a zombie) answers kill(0): it still counts dead. */
TEST(process_alive_zombie_is_dead)
{
    siginfo_t info;
    pid_t child = fork();
    ASSERT(child >= 0);
    if (child == 0)
        _exit(0);
    memset(&info, 0, sizeof info);
    /* WNOWAIT: returns once the child has ended, leaving it a zombie */
    ASSERT(waitid(P_PID, (id_t)child, &info, WEXITED | WNOWAIT) == 0);
    ASSERT(kill(child, 0) == 0);  /* the zombie is there: kill alone would call it alive */
    int alive = bd_process_alive((uint64_t)child);
    waitpid(child, 0, 0);
    ASSERT_INT(alive, ==, 0);
}
#endif
