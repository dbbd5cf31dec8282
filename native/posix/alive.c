/* alive.c (POSIX): whether a process id names a running process. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "bodega/bd_process.h"

/* 1 when /proc says pid is a zombie (ended, not reaped); 0 when it is not or /proc has no
 * word on it (no procfs, hidepid). */
static int zombie(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* "pid (comm) S ...": comm may hold ')' and spaces, so the state follows the last ')'. */
    const char *end = strrchr(buf, ')');
    return end && end[1] == ' ' && end[2] == 'Z';
}

int bd_process_alive(uint64_t pid)
{
    if (pid == 0 || pid > (uint64_t)INT32_MAX)
        return 0;  /* 0 would ask about our process group, not a process */
    if (kill((pid_t)pid, 0) != 0)
        return errno == EPERM;  /* it exists, owned by someone else */
    return !zombie((pid_t)pid);
}
