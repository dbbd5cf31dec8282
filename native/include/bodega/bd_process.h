/* bd_process.h: starting an app inside a container's isolation and waiting for it.
 *
 * One portable spec (argv, environment, working directory, the container root, binds,
 * network mode, limits) and one result (exit code or signal, timed out, cancelled, killed by
 * the memory limit, peak memory, how each limit was applied), implemented by
 *   posix/process.c: bubblewrap (a tmpfs root, the host's system directories read-only, the
 *     container root read-write at BD_ROOT_VIEW, a private /tmp, /proc and /dev, nothing of
 *     the host's home or /root, a private network namespace when the network is denied)
 *     plus cgroups (v2, else v1 memory and cpu controllers) where writable, else rlimits;
 *   win32/process.c: CreateProcessW in a Job Object (kill on close, job memory limit,
 *     hard CPU-rate cap).  On Windows the app sees the host's filesystem: redirecting its
 *     writes into the container is a filesystem driver's job, so binds and a denied network
 *     are refused there with BD_E_NOTSUP rather than ignored.
 * stdin, stdout and stderr are the caller's.  No descriptor or handle of the caller other
 * than those three reaches the app.  A caller that dies takes the app with it (posix: parent
 * death signal and bubblewrap's --die-with-parent; win32: the job is killed when its last
 * handle closes).
 */
#ifndef BODEGA_BD_PROCESS_H
#define BODEGA_BD_PROCESS_H

#include <stddef.h>
#include <stdint.h>
#include "bd_status.h"
#include "bd_progress.h"

/* Where the app sees the container root (posix).  On win32 it sees the root's host path. */
#define BD_ROOT_VIEW "/container"

typedef struct bd_bind {
    const char *source;  /* host path (a directory or a file) */
    const char *target;  /* absolute path where the app sees it */
    int read_only;
} bd_bind;

#define BD_NET_NONE 0  /* no network at all: a private namespace with only its own loopback */
#define BD_NET_HOST 1  /* the host's network */

/* How a limit was applied (bd_process_result.memory_by / cpu_by, bd_isolation.*_by). */
#define BD_BY_NONE      0
#define BD_BY_CGROUP_V1 1
#define BD_BY_CGROUP_V2 2
#define BD_BY_RLIMIT    3
#define BD_BY_JOB       4

typedef struct bd_process_spec {
    const char *const *argv;    /* NULL-terminated; argv[0] is the program as the app sees it */
    const char *const *env;     /* NULL-terminated "NAME=value": the app's whole environment */
    const char *cwd;            /* the working directory as the app sees it */
    const char *root;           /* the container root on the host: the app's writable world */
    const bd_bind *binds;
    size_t n_binds;
    uint32_t network;           /* BD_NET_* */
    uint64_t memory_limit;      /* bytes for the whole process tree; 0: none */
    uint32_t cpu_millicores;    /* thousandths of a core; 0: none */
    uint64_t time_limit_ms;     /* past it the whole process tree is killed; 0: none */
    const char *sandbox_tool;   /* posix: bubblewrap's path (NULL: "bwrap" on PATH) */
    const char *cgroup_root;    /* posix: where cgroups are mounted (NULL: /sys/fs/cgroup) */
} bd_process_spec;

typedef struct bd_process_result {
    int exited;            /* 1: the app exited and exit_code is its status */
    int exit_code;
    int signal;            /* the signal that ended it (posix, else 0) */
    int timed_out;         /* killed at time_limit_ms */
    int memory_killed;     /* the memory limit stopped it (as far as the mechanism tells) */
    uint64_t peak_memory;  /* bytes at most in use by the tree; 0 when unknown */
    uint64_t wall_ms;
    uint32_t memory_by;    /* BD_BY_*: how memory_limit was applied */
    uint32_t cpu_by;       /* BD_BY_*: how cpu_millicores was applied */
} bd_process_result;

/* Runs spec to its end.  Between checks (every 50 ms at most) it ticks p, so a cancel (p's
 * flag or its callback) stops the app: a polite signal, then after a grace period every
 * process of its tree is killed; the call then returns BD_E_CANCELLED.  BD_E_NOTSUP when
 * the isolation asked for cannot be had (no bubblewrap, binds or a denied network on
 * win32), BD_E_IO when the sandbox could not be set up (op says which step). */
bd_status bd_process_run(const bd_process_spec *spec, bd_progress *p, bd_process_result *out, bd_error *e);

/* What this host offers for isolation. */
typedef struct bd_isolation {
    char tool[512];        /* the sandbox tool found ("/usr/bin/bwrap"), "" when none (posix) */
    const char *root_view; /* BD_ROOT_VIEW on posix, NULL on win32 (the root's host path) */
    int binds;             /* 1: binds are supported */
    int network_none;      /* 1: BD_NET_NONE is enforceable */
    uint32_t memory_by;    /* BD_BY_* that bd_process_run would use now */
    uint32_t cpu_by;
} bd_isolation;

/* Probes the host (sandbox_tool, cgroup_root: as in bd_process_spec, NULL for defaults). */
bd_status bd_isolation_probe(const char *sandbox_tool, const char *cgroup_root, bd_isolation *out, bd_error *e);

/* Whether a process with this id runs on this machine: 1 yes, 0 no.  A process that ended
 * but was not reaped yet (a zombie) counts as ended; one this user may not signal or open
 * counts as running (it exists).  posix/alive.c: kill(pid, 0), then the state in
 * /proc/<pid>/stat where there is one; win32/alive.c: OpenProcess and its exit code. */
int bd_process_alive(uint64_t pid);

/* Lowers the calling process's CPU priority to the background level, so interactive work on
 * the machine (a server's request handlers) runs first when both want a core.  It only ever
 * lowers: a process already at or below that level is left as it is.  posix/priority.c: nice
 * value BD_BACKGROUND_NICE (setpriority); win32/priority.c: BELOW_NORMAL_PRIORITY_CLASS. */
#define BD_BACKGROUND_NICE 10
bd_status bd_process_lower_priority(bd_error *e);

#endif
