/* cgroup.h (POSIX): a private cgroup per launched app, for its memory and CPU limits.
 *
 * Version 2 (one unified hierarchy) is used when cgroup_root is a cgroup2 mount whose
 * controllers can be delegated to a child of our own cgroup; otherwise version 1 (one
 * hierarchy per controller, e.g. memory/ and cpu/ under cgroup_root).  The cgroup is made
 * below the caller's own, so whatever limits the caller already has still apply.
 */
#ifndef BODEGA_POSIX_CGROUP_H
#define BODEGA_POSIX_CGROUP_H

#include <stdint.h>

#define BD_CG_PATH 1024

typedef struct bd_cgroup {
    int version;                 /* 0: none, 1 or 2 */
    char mem[BD_CG_PATH];        /* the cgroup holding the memory limit ("" when none) */
    char cpu[BD_CG_PATH];        /* the cgroup holding the cpu limit (v2: == mem) */
    char mem_procs[BD_CG_PATH + 16];
    char cpu_procs[BD_CG_PATH + 16];
    uint32_t memory_by, cpu_by;  /* BD_BY_* actually in force */
    uint64_t memory_limit;
} bd_cgroup;

/* Makes the app's cgroup(s) with the limits (0: none).  Never fails: what cannot be set
 * leaves memory_by/cpu_by at BD_BY_NONE (the caller falls back to rlimits). */
void bd_cgroup_make(bd_cgroup *cg, const char *cgroup_root, uint64_t memory_limit, uint32_t cpu_millicores);

/* Sends sig to every process in the cgroup(s); returns how many were signalled. */
int bd_cgroup_signal(const bd_cgroup *cg, int sig);

/* Peak memory (bytes, 0 unknown) and whether the memory limit killed something. */
void bd_cgroup_stats(const bd_cgroup *cg, uint64_t *peak, int *oom_killed);

/* Kills what is left and removes the cgroup(s). */
void bd_cgroup_remove(bd_cgroup *cg);

#endif
