/* test_priority.c: bd_process_lower_priority, in a child process so the runner keeps its own. */
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <errno.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "bodega/bd_process.h"
#include "test.h"

#ifdef _WIN32
/* The priority class after setting `before` and lowering; the class is restored afterwards. */
static DWORD class_after_lowering(DWORD before)
{
    HANDLE self = GetCurrentProcess();
    DWORD saved = GetPriorityClass(self);
    bd_error e;
    bd_error_clear(&e);
    DWORD after = 0;
    if (SetPriorityClass(self, before) && bd_process_lower_priority(&e) == BD_OK)
        after = GetPriorityClass(self);
    SetPriorityClass(self, saved);
    return after;
}

TEST(lower_priority_goes_below_normal_and_never_raises)
{
    ASSERT_INT(class_after_lowering(NORMAL_PRIORITY_CLASS), ==, BELOW_NORMAL_PRIORITY_CLASS);
    ASSERT_INT(class_after_lowering(ABOVE_NORMAL_PRIORITY_CLASS), ==, BELOW_NORMAL_PRIORITY_CLASS);
    ASSERT_INT(class_after_lowering(IDLE_PRIORITY_CLASS), ==, IDLE_PRIORITY_CLASS);
}
#else
/* The nice value a child has after setting `before` and lowering (its exit status: nice + 20),
 * or 255 when a call failed. */
static int nice_after_lowering(int before)
{
    pid_t child = fork();
    if (child < 0)
        return -1;
    if (child == 0) {
        bd_error e;
        bd_error_clear(&e);
        if (setpriority(PRIO_PROCESS, 0, before) != 0 || bd_process_lower_priority(&e) != BD_OK)
            _exit(255);
        errno = 0;
        int now = getpriority(PRIO_PROCESS, 0);
        _exit(errno ? 255 : now + 20);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status) == 255 ? 255 : WEXITSTATUS(status) - 20;
}

TEST(lower_priority_goes_to_the_background_nice_and_never_raises)
{
    errno = 0;
    int mine = getpriority(PRIO_PROCESS, 0);
    ASSERT(errno == 0);
    if (mine < BD_BACKGROUND_NICE)  /* from our own level, it is lowered to the background's */
        ASSERT_INT(nice_after_lowering(mine), ==, BD_BACKGROUND_NICE);
    ASSERT_INT(nice_after_lowering(15), ==, 15);  /* lower already: left there */
    ASSERT_INT(nice_after_lowering(19), ==, 19);
}
#endif
