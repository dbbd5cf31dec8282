/* thread.c (Windows): threads, slim reader/writer locks and condition variables. */
#include <errno.h>
#include <stdlib.h>

#include "bd_win.h"
#include "bodega/bd_thread.h"

struct bd_thread {
    HANDLE h;
    bd_thread_fn fn;
    void *arg;
};

struct bd_mutex {
    SRWLOCK lock;
};

struct bd_cond {
    CONDITION_VARIABLE cv;
};

static DWORD WINAPI thread_main(LPVOID p)
{
    bd_thread *t = p;
    t->fn(t->arg);
    return 0;
}

bd_status bd_thread_start(bd_thread **out, bd_thread_fn fn, void *arg, bd_error *e)
{
    bd_thread *t = malloc(sizeof *t);
    if (!t)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    t->fn = fn;
    t->arg = arg;
    t->h = CreateThread(0, 0, thread_main, t, 0, 0);
    if (!t->h) {
        DWORD err = GetLastError();
        free(t);
        return bd_win_fail(e, err, "CreateThread", 0, 0);
    }
    *out = t;
    return BD_OK;
}

void bd_thread_join(bd_thread *t)
{
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    free(t);
}

bd_status bd_mutex_new(bd_mutex **out, bd_error *e)
{
    bd_mutex *m = malloc(sizeof *m);
    if (!m)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    InitializeSRWLock(&m->lock);
    *out = m;
    return BD_OK;
}

void bd_mutex_free(bd_mutex *m) { free(m); }  /* an SRWLOCK needs no teardown */
void bd_mutex_lock(bd_mutex *m) { AcquireSRWLockExclusive(&m->lock); }
void bd_mutex_unlock(bd_mutex *m) { ReleaseSRWLockExclusive(&m->lock); }

bd_status bd_cond_new(bd_cond **out, bd_error *e)
{
    bd_cond *c = malloc(sizeof *c);
    if (!c)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    InitializeConditionVariable(&c->cv);
    *out = c;
    return BD_OK;
}

void bd_cond_free(bd_cond *c) { free(c); }

void bd_cond_wait(bd_cond *c, bd_mutex *m)
{
    SleepConditionVariableSRW(&c->cv, &m->lock, INFINITE, 0);
}

int bd_cond_timedwait(bd_cond *c, bd_mutex *m, uint64_t timeout_ns)
{
    /* Round up to whole milliseconds (a wait never ends early); INFINITE is reserved. */
    uint64_t ms = timeout_ns / 1000000u + (timeout_ns % 1000000u != 0);
    if (ms >= INFINITE)
        ms = INFINITE - 1;
    return SleepConditionVariableSRW(&c->cv, &m->lock, (DWORD)ms, 0) ? 1 : 0;
}

void bd_cond_signal(bd_cond *c) { WakeConditionVariable(&c->cv); }
void bd_cond_broadcast(bd_cond *c) { WakeAllConditionVariable(&c->cv); }

unsigned bd_cpu_count(void)
{
    DWORD_PTR proc = 0, sys = 0;
    unsigned n = 0;
    if (GetProcessAffinityMask(GetCurrentProcess(), &proc, &sys))
        for (; proc; proc &= proc - 1)
            n++;
    if (n == 0)
        n = (unsigned)GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n ? n : 1u;
}

uint64_t bd_process_id(void)
{
    return (uint64_t)GetCurrentProcessId();
}
