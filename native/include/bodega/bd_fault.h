/* bd_fault.h: counted write-type steps, where a test crashes or fails a process on purpose.
 *
 * Every write-type platform call (create, write, sync, rename, unlink, mkdir, link, clone,
 * metadata) starts with bd_fault_step; so do the Python storage layer's own writes and the
 * catalogue's commits (through the binding), so one counter numbers every step a process
 * takes.  Compiled in always, inert unless armed: an unarmed step costs one atomic load.
 *
 * Armed by the environment at the first step (BODEGA_FAULT_STEP, BODEGA_FAULT_LOG) or by
 * bd_fault_arm.  A plan is one of:
 *   "trace"            append "N kind name" to the log for every step (the count of points)
 *   "kill@N"           SIGKILL (TerminateProcess on Windows) before the Nth step, after
 *                      logging it, so the test knows where the kill landed
 *   "EIO@N", "ENOSPC@N", "EACCES@N"
 *                      the Nth step fails with that errno instead of running (once)
 * N may be "KIND:N" to count only the steps of one kind ("kill@rename:3", "ENOSPC@write:1").
 */
#ifndef BODEGA_BD_FAULT_H
#define BODEGA_BD_FAULT_H

#include <stddef.h>
#include <stdint.h>
#include "bd_status.h"

typedef enum bd_step {
    BD_STEP_CREATE = 0,  /* a new file */
    BD_STEP_WRITE = 1,   /* bytes into a file */
    BD_STEP_SYNC = 2,    /* fsync of a file or directory, syncfs */
    BD_STEP_RENAME = 3,
    BD_STEP_UNLINK = 4,  /* a file, link or empty directory removed */
    BD_STEP_MKDIR = 5,
    BD_STEP_LINK = 6,    /* a symlink or hard link */
    BD_STEP_CLONE = 7,   /* a file cloned or copied */
    BD_STEP_META = 8,    /* mode, owner, times or extended attributes set */
    BD_STEP_COMMIT = 9   /* a catalogue transaction (from the Python layer) */
} bd_step;

#define BD_STEP_KINDS 10

/* One process's plan and count.  Each copy of the core (one per Python extension module)
 * has its own; bd_fault_share points them all at one, so the count is the process's. */
typedef struct bd_fault_plan {
    volatile int state;      /* 0 not read yet, 1 inert, 2 armed */
    volatile int claim;      /* taken by the thread that reads the environment */
    int action;              /* BD_FAULT_TRACE, BD_FAULT_KILL or BD_FAULT_ERRNO */
    int kind;                /* a bd_step, or -1: every kind counts */
    int err;                 /* the errno of BD_FAULT_ERRNO */
    uint64_t at;             /* the step that is killed or fails (1-based) */
    volatile uint64_t count; /* steps counted so far */
    char log[1024];          /* "" for none */
} bd_fault_plan;

#define BD_FAULT_TRACE 1
#define BD_FAULT_KILL 2
#define BD_FAULT_ERRNO 3

/* A write-type step of `kind` on the entry `name` (may be NULL) is about to run: counts it
 * when armed, logs it, and kills the process or fails with the planned errno (BD_E_IO, e
 * filled with op "injected <kind>") at the planned step.  BD_OK otherwise. */
bd_status bd_fault_step(bd_step kind, const char *name, size_t name_len, bd_error *e);

/* Arms this process's plan from spec (above; NULL or "" disarms) with log as its log path
 * (NULL: none) and resets the count.  Returns 0, or -1 when spec is not a plan (unchanged). */
int bd_fault_arm(const char *spec, const char *log);

/* Steps counted since the plan was armed. */
uint64_t bd_fault_count(void);

/* "create", "write", ... ("?" for an unknown kind). */
const char *bd_step_name(int kind);

/* This copy of the core's own plan, and: count in `plan` from now on (module start-up). */
bd_fault_plan *bd_fault_own_plan(void);
void bd_fault_share(bd_fault_plan *plan);

/* The first statement of every write-type platform function: returns the injected failure. */
#define BD_FAULT_STEP(kind, name, name_len, e)                                             \
    do {                                                                                  \
        bd_status fault_rc_ = bd_fault_step((kind), (name), (name_len), (e));              \
        if (fault_rc_ != BD_OK)                                                           \
            return fault_rc_;                                                             \
    } while (0)

/* Ends this process at once, with no cleanup: SIGKILL, TerminateProcess (platform code). */
void bd_fault_kill_self(void);

#endif
