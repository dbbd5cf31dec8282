/* fault.c: the step counter of bd_fault.h (portable); killing the process is platform code. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_fault.h"
#include "bodega/bd_thread.h"

static const char *const STEP_NAMES[BD_STEP_KINDS] = {
    "create", "write", "sync", "rename", "unlink", "mkdir", "link", "clone", "meta", "commit",
};

static bd_fault_plan own_plan;
static bd_fault_plan *volatile plan = &own_plan;

const char *bd_step_name(int kind)
{
    return kind >= 0 && kind < BD_STEP_KINDS ? STEP_NAMES[kind] : "?";
}

bd_fault_plan *bd_fault_own_plan(void)
{
    return &own_plan;
}

void bd_fault_share(bd_fault_plan *shared)
{
    plan = shared ? shared : &own_plan;
}

static int errno_named(const char *s, size_t n)
{
    if (n == 3 && memcmp(s, "EIO", 3) == 0)
        return EIO;
    if (n == 6 && memcmp(s, "ENOSPC", 6) == 0)
        return ENOSPC;
    if (n == 6 && memcmp(s, "EACCES", 6) == 0)
        return EACCES;
    return 0;
}

static int kind_named(const char *s, size_t n)
{
    for (int k = 0; k < BD_STEP_KINDS; k++)
        if (strlen(STEP_NAMES[k]) == n && memcmp(STEP_NAMES[k], s, n) == 0)
            return k;
    return -2;
}

/* Fills p's action, kind, err and at from spec; 0, or -1 when spec is not a plan. */
static int parse(const char *spec, bd_fault_plan *p)
{
    if (strcmp(spec, "trace") == 0) {
        p->action = BD_FAULT_TRACE;
        p->kind = -1;
        p->at = 0;
        return 0;
    }
    const char *at = strchr(spec, '@');
    if (!at)
        return -1;
    size_t alen = (size_t)(at - spec);
    int err = 0;
    if (alen == 4 && memcmp(spec, "kill", 4) == 0)
        p->action = BD_FAULT_KILL;
    else if ((err = errno_named(spec, alen)) != 0)
        p->action = BD_FAULT_ERRNO;
    else
        return -1;
    const char *num = at + 1;
    const char *colon = strchr(num, ':');
    p->kind = -1;
    if (colon) {
        p->kind = kind_named(num, (size_t)(colon - num));
        if (p->kind < 0)
            return -1;
        num = colon + 1;
    }
    if (*num < '1' || *num > '9')
        return -1;
    char *end;
    unsigned long long n = strtoull(num, &end, 10);
    if (*end != '\0')
        return -1;
    p->err = err;
    p->at = n;
    return 0;
}

static void set_log(bd_fault_plan *p, const char *log)
{
    size_t n = log ? strlen(log) : 0;
    if (n >= sizeof p->log)
        n = 0;  /* a log path this long is not a test's: no log rather than a cut one */
    memcpy(p->log, log ? log : "", n);
    p->log[n] = '\0';
}

/* The first step of a process reads its plan from the environment (once, by one thread). */
static void read_environment(bd_fault_plan *p)
{
    if (bd_atomic_fetch_or_int(&p->claim, 1) != 0) {
        while (bd_atomic_load_int(&p->state) == 0)
            ;  /* another thread is reading the same two variables: a few instructions */
        return;
    }
    const char *spec = getenv("BODEGA_FAULT_STEP");
    int armed = spec && *spec && parse(spec, p) == 0;
    set_log(p, getenv("BODEGA_FAULT_LOG"));
    bd_atomic_store_int(&p->state, armed ? 2 : 1);
}

int bd_fault_arm(const char *spec, const char *log)
{
    bd_fault_plan *p = plan;
    bd_fault_plan next = *p;
    if (spec && *spec && parse(spec, &next) != 0)
        return -1;
    bd_atomic_fetch_or_int(&p->claim, 1);  /* the environment is read no more */
    bd_atomic_store_int(&p->state, 1);
    p->action = next.action;
    p->kind = next.kind;
    p->err = next.err;
    p->at = next.at;
    set_log(p, log);
    bd_atomic_exchange_u64(&p->count, 0);
    bd_atomic_store_int(&p->state, spec && *spec ? 2 : 1);
    return 0;
}

uint64_t bd_fault_count(void)
{
    return bd_atomic_load_u64(&plan->count);
}

static void log_step(const bd_fault_plan *p, uint64_t n, int kind, const char *name, size_t len)
{
    if (!p->log[0])
        return;
    char line[600];
    int head = snprintf(line, sizeof line, "%llu %s ", (unsigned long long)n, bd_step_name(kind));
    if (head < 0)
        return;
    size_t room = sizeof line - (size_t)head - 2;
    size_t take = name ? (len < room ? len : room) : 0;
    for (size_t i = 0; i < take; i++)  /* one line per step, whatever the name holds */
        line[(size_t)head + i] = name[i] == '\n' || name[i] == '\0' ? '?' : name[i];
    line[(size_t)head + take] = '\n';
    FILE *f = fopen(p->log, "ab");
    if (!f)
        return;
    fwrite(line, 1, (size_t)head + take + 1, f);  /* one write: lines of threads never mix */
    fclose(f);
}

bd_status bd_fault_step(bd_step kind, const char *name, size_t name_len, bd_error *e)
{
    bd_fault_plan *p = plan;
    int state = bd_atomic_load_int(&p->state);
    if (state == 0) {
        read_environment(p);
        state = bd_atomic_load_int(&p->state);
    }
    if (state != 2 || (p->kind >= 0 && p->kind != (int)kind))
        return BD_OK;
    uint64_t n = bd_atomic_fetch_add_u64(&p->count, 1) + 1;
    if (p->action == BD_FAULT_TRACE) {
        log_step(p, n, (int)kind, name, name_len);
        return BD_OK;
    }
    if (n != p->at)
        return BD_OK;
    log_step(p, n, (int)kind, name, name_len);
    if (p->action == BD_FAULT_KILL)
        bd_fault_kill_self();
    static const char *const OPS[BD_STEP_KINDS] = {
        "injected create", "injected write", "injected sync", "injected rename", "injected unlink",
        "injected mkdir", "injected link", "injected clone", "injected meta", "injected commit",
    };
    if (name)
        return bd_fail_n(e, BD_E_IO, p->err, OPS[kind], BD_PATH_AS_GIVEN, name, name_len);
    return bd_fail(e, BD_E_IO, p->err, OPS[kind], BD_PATH_AS_GIVEN, 0);
}
